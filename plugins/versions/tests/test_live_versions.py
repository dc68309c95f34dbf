"""Content versions over HTTP against the real server (``transom start``, 2 workers)."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.live


def test_versions_over_http(live_server, backend):
    server = live_server(workers=2)
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {server.admin_token}"
    base = server.base_url

    r = api.post(f"{base}/collections", json={
        "collection": "pages", "meta": {"versioning": True}, "schema": {},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "title", "type": "string"}, {"field": "body", "type": "text"}]})
    assert r.status_code == 200, r.text
    page = api.post(f"{base}/items/pages", json={"title": "Home", "body": "hi"}).json()[
        "data"]["id"]
    r = api.post(f"{base}/versions", json={"key": "draft", "name": "Draft",
                                           "collection": "pages", "item": page})
    assert r.status_code == 200, r.text
    vid = r.json()["data"]["id"]
    r = api.post(f"{base}/versions/{vid}/save", json={"title": "Home v2"})
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"id": page, "title": "Home v2", "body": "hi"}
    # every worker reads the version and the untouched main item
    for _ in range(6):
        r = api.get(f"{base}/items/pages/{page}?version=draft")
        assert r.json()["data"]["title"] == "Home v2"
        assert api.get(f"{base}/items/pages/{page}").json()["data"]["title"] == "Home"
        r = api.get(f"{base}/items/pages/{page}?version=unknown")
        assert r.status_code == 403
        assert r.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    cmp = api.get(f"{base}/versions/{vid}/compare").json()["data"]
    assert cmp["outdated"] is False and cmp["current"] == {"title": "Home v2"}
    r = api.post(f"{base}/versions/{vid}/promote", json={"mainHash": cmp["mainHash"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"data": page}
    for _ in range(4):
        assert api.get(f"{base}/items/pages/{page}").json()["data"]["title"] == "Home v2"
    # the main item moved on: the version is outdated and the old hash is refused
    assert api.get(f"{base}/versions/{vid}/compare").json()["data"]["outdated"] is True
    r = api.post(f"{base}/versions/{vid}/promote", json={"mainHash": cmp["mainHash"]})
    assert r.status_code == 400, r.text
