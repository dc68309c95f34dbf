"""Reading items over REST with the Directus query language, on every backend."""

from __future__ import annotations

import json

from transom.testing.plugin import count_statements


def get(client, url, headers):
    resp = client.get(url, headers=headers)
    return resp.status_code, resp.get_json()


def test_list_default_shape(blog, client, admin_headers):
    status, body = get(client, "/items/articles?limit=2", admin_headers)
    assert status == 200
    assert list(body) == ["data"]
    first = body["data"][0]
    assert first["id"] == 1
    assert first["title"] == "Article 1"
    assert first["published_at"] == "2024-02-02T12:00:00.000Z"
    assert first["data"] == {"tags": ["a"], "n": 1}
    assert first["author"] == 2
    assert len(body["data"]) == 2


def test_filter_sort_limit(blog, client, admin_headers):
    status, body = get(client, "/items/articles?filter[status][_eq]=published&sort=-rating"
                               "&fields=id,rating,status", admin_headers)
    assert status == 200
    ratings = [a["rating"] for a in body["data"]]
    assert ratings == sorted(ratings, reverse=True)
    assert {a["status"] for a in body["data"]} == {"published"}


def test_json_filter_and_or(blog, client, admin_headers):
    flt = json.dumps({"_or": [{"id": {"_eq": 1}}, {"id": {"_in": [3, 4]}}]})
    status, body = get(client, f"/items/articles?fields=id&filter={flt}", admin_headers)
    assert status == 200
    assert [a["id"] for a in body["data"]] == [1, 3, 4]


def test_operators_without_underscore(blog, client, admin_headers):
    status, body = get(client, "/items/articles?fields=id&filter[id][lte]=2", admin_headers)
    assert status == 200
    assert [a["id"] for a in body["data"]] == [1, 2]


def test_contains_is_case_sensitive_icontains_is_not(blog, client, admin_headers):
    _, body = get(client, "/items/articles?fields=id&filter[body][_contains]=flask",
                  admin_headers)
    assert body["data"] == []
    _, body = get(client, "/items/articles?fields=id&filter[body][_icontains]=flask",
                  admin_headers)
    assert [a["id"] for a in body["data"]] == [2, 4, 6, 8, 10, 12]


def test_relational_fields_m2o_and_o2m(blog, client, admin_headers):
    status, body = get(client, "/items/articles?fields=id,title,author.name&limit=3",
                       admin_headers)
    assert status == 200
    assert body["data"][0] == {"id": 1, "title": "Article 1", "author": {"name": "Alan Turing"}}
    status, body = get(client, "/items/articles?fields=*,author.*&limit=1", admin_headers)
    assert body["data"][0]["author"] == {"id": 2, "name": "Alan Turing",
                                         "email": "alan@example.com"}


def test_relational_filter_and_sort(blog, client, admin_headers):
    _, body = get(client, "/items/articles?fields=id&filter[author][name][_eq]=Ada Lovelace",
                  admin_headers)
    assert [a["id"] for a in body["data"]] == [3, 6, 9, 12]
    _, body = get(client, "/items/articles?fields=id,author.name&sort=author.name,id&limit=4",
                  admin_headers)
    assert [a["author"]["name"] for a in body["data"]] == ["Ada Lovelace"] * 4


def test_meta_counts(blog, client, admin_headers):
    _, body = get(client, "/items/articles?limit=2&meta=*&filter[rating][_gte]=50",
                  admin_headers)
    assert body["meta"]["total_count"] == 12
    expected = len([i for i in range(1, 13) if (i * 17) % 100 >= 50])
    assert body["meta"]["filter_count"] == expected
    assert list(body) == ["meta", "data"]


def test_unnarrowed_counts_have_no_where(blog, client, admin_headers):
    """An admin's total_count carries no WHERE (not even ``1 = 1``): SQLite answers a bare
    ``count(*)`` from the b-tree (0.2 ms for 1M rows against 8 ms with a WHERE)."""
    cms = blog.extensions["transom"]
    for meta in ("total_count", "total_count,filter_count"):
        with count_statements(cms.engine) as seen:
            _, body = get(client, f"/items/articles?limit=1&fields=id&meta={meta}"
                                  "&filter[rating][_gte]=50", admin_headers)
        assert body["meta"]["total_count"] == 12
        counts = [s for s in seen if "count(*)" in s.lower() and "directus_" not in s]
        assert len(counts) == 1, seen
        # the total's count(*), up to the end of its statement or of its scalar subquery
        total = counts[0].lower().split("count(*)")[1].split(")")[0]
        assert "from" in total and "where" not in total, counts[0]


def test_aggregate_group_by(blog, client, admin_headers):
    _, body = get(client, "/items/articles?aggregate[count]=*&groupBy[]=status", admin_headers)
    assert body["data"] == [
        {"status": "archived", "count": 4},
        {"status": "draft", "count": 4},
        {"status": "published", "count": 4},
    ]
    _, body = get(client, "/items/articles?aggregate[count]=*", admin_headers)
    assert body["data"] == [{"count": 12}]
    _, body = get(client, "/items/articles?aggregate[max]=rating&aggregate[countDistinct]=author"
                          "&aggregate[avg]=rating", admin_headers)
    assert body["data"][0]["countDistinct"] == {"author": 3}
    assert body["data"][0]["max"] == {"rating": 87}
    assert abs(body["data"][0]["avg"]["rating"] - 526 / 12) < 1e-3


def test_search(blog, client, admin_headers):
    _, body = get(client, "/items/articles?fields=id&search=flask", admin_headers)
    assert [a["id"] for a in body["data"]] == [2, 4, 6, 8, 10, 12]


def test_read_one_and_missing(blog, client, admin_headers):
    status, body = get(client, "/items/articles/3", admin_headers)
    assert status == 200 and body["data"]["id"] == 3
    for bad in ("999999", "abc"):
        status, body = get(client, f"/items/articles/{bad}", admin_headers)
        assert status == 403
        assert body == {"errors": [{"message": "You don't have permission to access this.",
                                    "extensions": {"code": "FORBIDDEN"}}]}


def test_errors_match_directus(blog, client, admin_headers):
    status, body = get(client, "/items/does_not_exist", admin_headers)
    assert status == 403
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "does_not_exist" in body["errors"][0]["message"]
    status, body = get(client, "/items/articles?filter[status][_bogus]=x", admin_headers)
    assert status == 400
    assert body["errors"][0]["message"] == (
        'Invalid query. "string" field type does not contain the "_bogus" filter operator.')
    status, body = get(client, "/items/articles?filter[nope][_eq]=x", admin_headers)
    assert status == 403
    assert body["errors"][0]["message"].startswith(
        'You don\'t have permission to access field "nope" in collection "articles"')
    status, body = get(client, "/items/articles?filter={not json", admin_headers)
    assert status == 400 and body["errors"][0]["extensions"]["code"] == "INVALID_QUERY"
    status, body = get(client, "/items/articles?limit=abc", admin_headers)
    assert status == 400
    assert body["errors"][0]["message"] == 'Invalid query. "limit" must be a number.'
    for url in ("/items/articles?sort=nope", "/items/articles?fields=nope"):
        status, body = get(client, url, admin_headers)
        assert status == 403
    status, body = get(client, "/items/articles?filter[rating][_eq]=abc", admin_headers)
    assert status == 400
    status, body = get(client, "/items/directus_users", admin_headers)
    assert status == 403


def test_no_n_plus_one(blog_o2m, client, admin_headers):
    """The statement count depends on the relational shape of ``fields``, not on rows."""
    cms = blog_o2m.extensions["transom"]
    for limit in (2, 12):
        with count_statements(cms.engine) as seen:
            status, body = get(
                client, f"/items/articles?fields=id,author.name,comments.text&limit={limit}",
                admin_headers)
        assert status == 200 and len(body["data"]) == limit
        data_statements = [s for s in seen
                           if s.lstrip().upper().startswith("SELECT") and "directus_" not in s]
        # the m2o is a LEFT JOIN in the root statement; the o2m is one more statement
        assert len(data_statements) == 2, data_statements


def test_o2m_alias_and_deep(blog_o2m, client, admin_headers):
    _, body = get(client, "/items/articles?fields=id,comments&filter[id][_eq]=1", admin_headers)
    assert sorted(body["data"][0]["comments"]) == [1, 2]
    _, body = get(client, "/items/articles?fields=id,comments.text&filter[id][_eq]=1"
                          "&deep[comments][_limit]=1&deep[comments][_sort]=-id", admin_headers)
    assert body["data"][0]["comments"] == [{"text": "Great read"}]
    _, body = get(client, "/items/articles?fields=id&filter[comments][_none][text][_eq]=Hmm"
                          "&limit=3", admin_headers)
    assert [a["id"] for a in body["data"]] == [1, 3, 4]
    _, body = get(client, "/items/articles?fields=id,count(comments)&limit=2", admin_headers)
    assert body["data"] == [{"id": 1, "comments_count": 2}, {"id": 2, "comments_count": 1}]


def test_alias_and_functions(blog, client, admin_headers):
    _, body = get(client, "/items/articles?fields=id,headline,year(published_at)&alias[headline]="
                          "title&filter[id][_eq]=1", admin_headers)
    assert body["data"] == [{"id": 1, "headline": "Article 1", "published_at_year": 2024}]
    _, body = get(client, '/items/articles?fields=id&filter={"month(published_at)":{"_eq":3}}',
                  admin_headers)
    assert [a["id"] for a in body["data"]] == [2]
    assert get(client, "/items/articles?alias[x]=nope&fields=x", admin_headers)[0] == 403


def test_openapi_document(blog, client, admin_headers):
    status, doc = get(client, "/server/specs/oas", admin_headers)
    assert status == 200 and doc["openapi"].startswith("3.")
    assert {"/items/articles", "/items/articles/{id}", "/items/authors"} <= set(doc["paths"])
    props = doc["components"]["schemas"]["Itemsarticles"]["properties"]
    assert props["rating"]["type"] == "integer" and props["published_at"]["type"] == "string"
    assert set(doc["paths"]["/items/articles"]) == {"get", "post", "patch", "delete"}
    status, anon = get(client, "/server/specs/oas", {})
    assert status == 200 and "/items/articles" not in anon["paths"]
