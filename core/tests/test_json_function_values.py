"""``json(field, path)`` in ``fields`` answers the JSON value itself (a number, a list, an
object, null), as Directus 11 does, not its text; on every backend."""

from __future__ import annotations

from typing import Any


def test_json_function_answers_json_values(blog: Any, client: Any,
                                           admin_headers: dict[str, str]) -> None:
    r = client.get("/items/articles?fields=id,json(data,n),json(data,tags),"
                   "json(data,tags[1]),json(data,nope)&sort=id&limit=3", headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"] == [
        {"id": 1, "data_n_json": 1, "data_tags_json": ["a"], "data_tags_1_json": None,
         "data_nope_json": None},
        {"id": 2, "data_n_json": 2, "data_tags_json": ["a", "b"], "data_tags_1_json": "b",
         "data_nope_json": None},
        {"id": 3, "data_n_json": 3, "data_tags_json": [], "data_tags_1_json": None,
         "data_nope_json": None},
    ]
    # a field that is not json is a 400
    bad = client.get("/items/articles?fields=json(title,a)", headers=admin_headers)
    assert bad.status_code == 400
    assert bad.get_json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"
