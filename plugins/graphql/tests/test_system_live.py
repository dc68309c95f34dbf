"""The system roots of ``/graphql/system`` over HTTP, against ``transom start`` (2 workers)."""

from __future__ import annotations

from transom.testing.live_support import LIVE_ADMIN_EMAIL, LIVE_ADMIN_PASSWORD


def test_system_roots_live(live_server):
    server = live_server("sqlite", workers=2)
    server.ok("POST", "/collections", {"collection": "notes", "schema": {}, "fields": [
        {"field": "id", "type": "integer",
         "schema": {"is_primary_key": True, "has_auto_increment": True}},
        {"field": "body", "type": "string"}]})
    query = ('{ collections_by_name(name: "notes") { collection schema } '
             'fields_by_name(collection: "notes", field: "body") { field type } '
             "server_info { project { project_name } version } }")
    # every worker answers the same (the schema change reached both)
    answers = server.burst("POST", "/graphql/system", n=6, body={"query": query}, full=True)
    for status, body in answers:
        assert status == 200 and "errors" not in body, body
        data = body["data"]
        assert data["collections_by_name"]["collection"] == "notes"
        assert data["fields_by_name"] == {"field": "body", "type": "string"}
        assert data["server_info"]["version"] == server.ok("GET", "/server/info")["version"]
    status, body = server.call("POST", "/graphql/system", {"query": 'mutation { '
                               'utils_hash_generate(string: "pw") }'})
    assert status == 200 and body["data"]["utils_hash_generate"].startswith("$argon2")
    status, body = server.call("POST", "/graphql/system", {"query": query}, token=None)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"

    # auth_login goes through /auth/login; its token works on every worker
    status, body = server.call("POST", "/graphql/system", {
        "query": "mutation ($e: String!, $p: String!) { auth_login(email: $e, password: $p)"
                 " { access_token refresh_token } }",
        "variables": {"e": LIVE_ADMIN_EMAIL, "p": LIVE_ADMIN_PASSWORD}}, token=None)
    assert status == 200 and "errors" not in body, body
    token = body["data"]["auth_login"]["access_token"]
    seen = server.burst("POST", "/graphql/system", n=6, token=token,
                        body={"query": "{ users_me { email } }"}, full=True)
    assert {b["data"]["users_me"]["email"] for _, b in seen} == {LIVE_ADMIN_EMAIL}
