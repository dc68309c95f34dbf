"""``/graphql/system`` roots besides the collections: schema reads by name, server_info and
the utils_* mutations answer what the REST routes answer (same services)."""

from __future__ import annotations

SYSTEM = "/graphql/system"


def rest(client, headers, path):
    resp = client.get(path, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def test_schema_reads_by_name_match_rest(gql, client, admin_headers):
    data = gql.data('{ collections_by_name(name: "articles") { collection meta schema } '
                    'fields_in_collection(collection: "articles") { collection field type '
                    'meta schema } '
                    'fields_by_name(collection: "articles", field: "title") { field type '
                    'schema } '
                    'relations_in_collection(collection: "comments") { collection field '
                    'related_collection meta schema } '
                    'relations_by_name(collection: "comments", field: "article") '
                    '{ collection field related_collection } }', path=SYSTEM)
    coll = rest(client, admin_headers, "/collections/articles")
    assert data["collections_by_name"] == {k: coll[k] for k in ("collection", "meta", "schema")}
    fields = rest(client, admin_headers, "/fields/articles")
    assert data["fields_in_collection"] == [
        {k: f[k] for k in ("collection", "field", "type", "meta", "schema")} for f in fields]
    title = rest(client, admin_headers, "/fields/articles/title")
    assert data["fields_by_name"] == {k: title[k] for k in ("field", "type", "schema")}
    relations = rest(client, admin_headers, "/relations/comments")
    assert data["relations_in_collection"] == [
        {k: r[k] for k in ("collection", "field", "related_collection", "meta", "schema")}
        for r in relations]
    assert data["relations_by_name"] == {"collection": "comments", "field": "article",
                                         "related_collection": "articles"}


def test_schema_reads_refuse_unknown_and_anonymous(gql):
    resp = gql('{ collections_by_name(name: "nope") { collection } }', path=SYSTEM)
    body = resp.get_json()
    assert body["data"]["collections_by_name"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    resp = gql('{ fields_by_name(collection: "articles", field: "nope") { field } }',
               path=SYSTEM)
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    resp = gql('{ collections_by_name(name: "articles") { collection } }', headers={},
               path=SYSTEM)
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_server_info_matches_rest(gql, client, admin_headers):
    data = gql.data("{ server_info { project { project_name project_color "
                    "public_registration } setupCompleted queryLimit { default max } "
                    "version } }", path=SYSTEM)["server_info"]
    info = rest(client, admin_headers, "/server/info")
    assert data["project"] == {k: info["project"][k] for k in (
        "project_name", "project_color", "public_registration")}
    assert data["queryLimit"] == info["queryLimit"] and data["version"] == info["version"]
    assert data["setupCompleted"] is True
    # anonymous callers get the project only, as over REST
    anon = gql("{ server_info { project { project_name } version } }", headers={},
               path=SYSTEM).get_json()["data"]["server_info"]
    assert anon == {"project": {"project_name": info["project"]["project_name"]},
                    "version": None}


def test_utils_mutations(gql):
    made = gql.data('mutation { utils_hash_generate(string: "hello") '
                    "utils_random_string(length: 12) }", path=SYSTEM)
    assert made["utils_hash_generate"].startswith("$argon2")
    assert len(made["utils_random_string"]) == 12
    checked = gql.data("mutation ($h: String!) { yes: utils_hash_verify(string: \"hello\", "
                       "hash: $h) no: utils_hash_verify(string: \"other\", hash: $h) }",
                       {"h": made["utils_hash_generate"]}, path=SYSTEM)
    assert checked == {"yes": True, "no": False}
    resp = gql("mutation { utils_random_string(length: 0) }", path=SYSTEM)
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"
    resp = gql('mutation { utils_hash_generate(string: "") }', path=SYSTEM)
    assert resp.get_json()["errors"][0]["extensions"]["code"] == "INVALID_PAYLOAD"


def test_auth_mutations_go_through_the_auth_routes(gql, client):
    from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD

    login = gql.data("mutation ($e: String!, $p: String!) { auth_login(email: $e, "
                     "password: $p) { access_token expires refresh_token } }",
                     {"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD}, headers={},
                     path=SYSTEM)["auth_login"]
    assert login["access_token"] and login["refresh_token"] and int(login["expires"]) > 0
    me = gql.data("{ users_me { email } }", headers={
        "Authorization": f"Bearer {login['access_token']}"}, path=SYSTEM)
    assert me == {"users_me": {"email": ADMIN_EMAIL}}
    # refresh rotates the token, as /auth/refresh does
    fresh = gql.data("mutation ($t: String) { auth_refresh(refresh_token: $t) { "
                     "access_token refresh_token } }", {"t": login["refresh_token"]},
                     headers={}, path=SYSTEM)["auth_refresh"]
    assert fresh["refresh_token"] != login["refresh_token"]
    unknown = gql('mutation { auth_refresh(refresh_token: "no-such-token") { access_token } }',
                  headers={}, path=SYSTEM).get_json()
    assert unknown["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
    out = gql.data("mutation ($t: String) { auth_logout(refresh_token: $t) }",
                   {"t": fresh["refresh_token"]}, headers={}, path=SYSTEM)
    assert out == {"auth_logout": True}
    bad = gql('mutation { auth_login(email: "x@example.com", password: "nope") '
              "{ access_token } }", headers={}, path=SYSTEM).get_json()
    assert bad["errors"][0]["extensions"]["code"] == "INVALID_CREDENTIALS"
    assert gql.data('mutation { auth_password_request(email: "nobody@example.com") }',
                    headers={}, path=SYSTEM) == {"auth_password_request": True}
    reset = gql('mutation { auth_password_reset(token: "not-a-token", password: "x1") }',
                headers={}, path=SYSTEM).get_json()
    assert reset["errors"][0]["extensions"]["code"] in ("INVALID_TOKEN", "INVALID_PAYLOAD")
    # session mode: the cookie the route sets reaches the GraphQL response
    resp = gql("mutation ($e: String!, $p: String!) { auth_login(email: $e, password: $p, "
               "mode: session) { access_token } }", {"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD},
               headers={}, path=SYSTEM)
    assert resp.status_code == 200 and "errors" not in resp.get_json()
    assert "directus_session_token=" in " ".join(resp.headers.getlist("Set-Cookie"))


def test_server_health_is_the_rest_document(gql, client, admin_headers):
    data = gql.data("{ server_health }", path=SYSTEM)["server_health"]
    rest_body = client.get("/server/health", headers=admin_headers).get_json()
    assert data["status"] == rest_body["status"] and set(data) == set(rest_body)
    assert "checks" in data  # admins get the details
    anon = gql("{ server_health }", headers={}, path=SYSTEM).get_json()["data"]
    assert anon == {"server_health": {"status": rest_body["status"]}}


ME_RULE = {"id": {"_eq": "$CURRENT_USER"}}


def test_update_users_me_is_patch_users_me(gql, client, admin_headers, make_user):
    # the admin: the update is the one PATCH /users/me makes, read back with the selection
    done = gql.data('mutation { update_users_me(data: {first_name: "Ada", '
                    'last_name: "L"}) { first_name last_name email } }',
                    path=SYSTEM)["update_users_me"]
    me = rest(client, admin_headers, "/users/me?fields=first_name,last_name,email")
    assert done == me and me["first_name"] == "Ada"
    # a user who may update only their own first_name
    user = make_user([
        {"collection": "directus_users", "action": "read", "fields": ["*"],
         "permissions": ME_RULE},
        {"collection": "directus_users", "action": "update", "fields": ["first_name", "email"],
         "permissions": ME_RULE}])
    headers = user["headers"]
    done = gql.data('mutation { update_users_me(data: {first_name: "Grace"}) '
                    "{ id first_name } }", headers=headers, path=SYSTEM)["update_users_me"]
    assert done == {"id": user["user"]["id"], "first_name": "Grace"}
    assert rest(client, headers, "/users/me?fields=first_name") == {"first_name": "Grace"}
    # fields the user may not update are not in the input type (refused before any write)
    resp = gql('mutation { update_users_me(data: {last_name: "X"}) { id } }',
               headers=headers, path=SYSTEM)
    assert resp.get_json()["errors"] and resp.get_json().get("data") is None
    assert rest(client, headers, "/users/me?fields=last_name") == {"last_name": None}


def test_update_users_me_refuses_what_rest_refuses(gql, client, admin_headers):
    rest_answer = client.patch("/users/me", json={"email": "not-an-email"},
                               headers=admin_headers)
    assert rest_answer.status_code == 400
    code = rest_answer.get_json()["errors"][0]["extensions"]["code"]
    resp = gql('mutation { update_users_me(data: {email: "not-an-email"}) { email } }',
               path=SYSTEM)
    body = resp.get_json()
    assert body["data"]["update_users_me"] is None
    assert body["errors"][0]["extensions"]["code"] == code
    assert "@" in rest(client, admin_headers, "/users/me?fields=email")["email"]
    # anonymous callers have no user to update
    anon = gql('mutation { update_users_me(data: {first_name: "x"}) { id } }', headers={},
               path=SYSTEM).get_json()
    assert anon["errors"] and not (anon.get("data") or {}).get("update_users_me")


def test_me_queries_match_rest(gql, client, admin_headers, make_user):
    query = ("{ policies_me_globals { app_access admin_access enforce_tfa } permissions_me "
             "roles_me { id name } }")
    # roles_me is typed as directus_roles: a caller who may read roles has it (as users_me)
    user = make_user([{"collection": "articles", "action": "read", "fields": ["id"]},
                      {"collection": "directus_roles", "action": "read",
                       "fields": ["id", "name"]}])
    for headers in (admin_headers, user["headers"]):
        data = gql.data(query, headers=headers, path=SYSTEM)
        assert data["policies_me_globals"] == rest(client, headers, "/policies/me/globals")
        assert data["permissions_me"] == rest(client, headers, "/permissions/me")
        assert data["roles_me"] == rest(client, headers, "/roles/me?fields=id,name")
    assert data["roles_me"] == [{"id": user["role"]["id"], "name": user["role"]["name"]}]
    assert data["permissions_me"]["articles"]["read"]["access"] in ("full", "partial")
    public = gql.data(query.replace("roles_me { id name }", ""), headers={}, path=SYSTEM)
    assert public["policies_me_globals"] == {"app_access": False, "admin_access": False,
                                             "enforce_tfa": False}
    # the public may not read roles: no such root, as for users_me
    absent = gql("{ roles_me { id } }", headers={}, path=SYSTEM).get_json()
    assert absent["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION"


def test_tfa_mutations_are_the_tfa_routes(gql, client, admin_headers):
    import pyotp

    from transom.testing.plugin import ADMIN_EMAIL, ADMIN_PASSWORD

    def login(**extra):
        return client.post("/auth/login", json={"email": ADMIN_EMAIL,
                                                "password": ADMIN_PASSWORD, **extra})

    def code(resp):
        return resp.get_json()["errors"][0]["extensions"]["code"]

    generate = 'mutation ($p: String) { users_me_tfa_generate(password: $p) ' \
               '{ secret otpauth_url } }'
    wrong = gql(generate, {"p": "not-the-password"}, path=SYSTEM)
    rest_wrong = client.post("/users/me/tfa/generate", json={"password": "not-the-password"},
                             headers=admin_headers)
    assert rest_wrong.status_code >= 400 and code(wrong) == code(rest_wrong)
    made = gql.data(generate, {"p": ADMIN_PASSWORD}, path=SYSTEM)["users_me_tfa_generate"]
    secret = made["secret"]
    assert secret and made["otpauth_url"].startswith("otpauth://totp/")
    enable = "mutation ($o: String!, $s: String!) { users_me_tfa_enable(otp: $o, secret: $s) }"
    other = pyotp.TOTP(pyotp.random_base32()).now()
    refused = gql(enable, {"o": other, "s": secret}, path=SYSTEM)
    assert refused.get_json()["errors"][0]["extensions"]["code"] in ("INVALID_OTP",
                                                                     "INVALID_PAYLOAD")
    assert login().status_code == 200  # not enabled by the refused code
    assert gql.data(enable, {"o": pyotp.TOTP(secret).now(), "s": secret},
                    path=SYSTEM) == {"users_me_tfa_enable": True}
    assert code(login()) == "INVALID_OTP"
    assert login(otp=pyotp.TOTP(secret).now()).status_code == 200
    disable = "mutation ($o: String!) { users_me_tfa_disable(otp: $o) }"
    assert gql(disable, {"o": other}, path=SYSTEM).get_json()["errors"]
    assert gql.data(disable, {"o": pyotp.TOTP(secret).now()},
                    path=SYSTEM) == {"users_me_tfa_disable": True}
    assert login().status_code == 200
    anon = gql(generate, {"p": ADMIN_PASSWORD}, headers={}, path=SYSTEM).get_json()
    assert anon["errors"] and not (anon.get("data") or {}).get("users_me_tfa_generate")


def _gql(client, query, variables=None, headers=None):
    """(status, body) of one /graphql/system request."""
    resp = client.post(SYSTEM, json={"query": query, "variables": variables or {}},
                       headers=headers or {})
    return resp.status_code, resp.get_json()


def _code(body):
    return body["errors"][0]["extensions"]["code"]


def test_onboarding_mutations_are_the_rest_routes(make_app, admin_headers):
    """users_invite / users_invite_accept / users_register / users_register_verify: the
    mails, tokens, checks and errors of the REST routes they dispatch to."""
    import re

    app = make_app({"REGISTER_STALL_TIME": "0", "PUBLIC_URL": "https://cms.example.com"})
    client = app.test_client()
    cms = app.extensions["transom"]

    def token_of_last_mail():
        return re.search(r"token=([\w.-]+)", cms.extensions["sent_mail"][-1].text).group(1)

    def logs_in(email, password):
        return client.post("/auth/login", json={"email": email, "password": password}
                           ).status_code == 200

    role = client.post("/roles", json={"name": "invited"}, headers=admin_headers
                       ).get_json()["data"]["id"]
    invite = "mutation ($e: String!, $r: String!) { users_invite(email: $e, role: $r) }"
    status, body = _gql(client, invite, {"e": "new@example.com", "r": role}, admin_headers)
    assert (status, body) == (200, {"data": {"users_invite": True}})
    status, body = _gql(client, invite, {"e": "nope", "r": role}, admin_headers)
    rest = client.post("/users/invite", json={"email": "nope", "role": role},
                       headers=admin_headers).get_json()
    assert _code(body) == _code(rest) == "INVALID_PAYLOAD"
    assert body["errors"][0]["message"] == rest["errors"][0]["message"]
    assert _code(_gql(client, invite, {"e": "x@example.com", "r": role})[1]) == "FORBIDDEN"
    accept = "mutation ($t: String!, $p: String!) { users_invite_accept(token: $t, password: $p) }"
    assert _gql(client, accept, {"t": token_of_last_mail(), "p": "Secret-123"})[1] == \
        {"data": {"users_invite_accept": True}}
    assert logs_in("new@example.com", "Secret-123")

    register = ("mutation ($e: String!, $p: String!) { users_register(email: $e, password: $p, "
                'first_name: "Ada") }')
    assert _code(_gql(client, register, {"e": "reg@example.com", "p": "Reg-12345"})[1]) == \
        "FORBIDDEN"  # public registration is off
    assert client.patch("/settings", json={
        "public_registration": True, "public_registration_role": role,
        "public_registration_verify_email": True}, headers=admin_headers).status_code == 200
    assert _gql(client, register, {"e": "reg@example.com", "p": "Reg-12345"})[1] == \
        {"data": {"users_register": True}}
    assert not logs_in("reg@example.com", "Reg-12345")  # not verified yet
    verify = "mutation ($t: String!) { users_register_verify(token: $t) }"
    assert _code(_gql(client, verify, {"t": "not-a-token"})[1]) in ("INVALID_TOKEN",
                                                                    "INVALID_PAYLOAD")
    assert _gql(client, verify, {"t": token_of_last_mail()})[1] == \
        {"data": {"users_register_verify": True}}
    assert logs_in("reg@example.com", "Reg-12345")
    user = client.get("/users?filter[email][_eq]=reg@example.com&fields=first_name,status",
                      headers=admin_headers).get_json()["data"]
    assert user == [{"first_name": "Ada", "status": "active"}]


def test_utils_sort_revert_and_specs(make_app, admin_headers):
    app = make_app()
    client = app.test_client()
    assert client.post("/collections", json={
        "collection": "tasks", "meta": {"sort_field": "sort"},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "title", "type": "string"}, {"field": "sort", "type": "integer"}]},
        headers=admin_headers).status_code == 200
    for i in range(1, 5):
        client.post("/items/tasks", json={"title": f"t{i}", "sort": i}, headers=admin_headers)

    def order():
        return [r["title"] for r in client.get("/items/tasks?sort=sort&fields=title",
                                               headers=admin_headers).get_json()["data"]]

    sort = ("mutation ($c: String!, $i: ID!, $t: ID!) "
            "{ utils_sort(collection: $c, item: $i, to: $t) }")
    assert _gql(client, sort, {"c": "tasks", "i": "4", "t": "2"}, admin_headers)[1] == \
        {"data": {"utils_sort": True}}
    assert order() == ["t1", "t4", "t2", "t3"]
    assert _code(_gql(client, sort, {"c": "nope", "i": "1", "t": "2"}, admin_headers)[1]) == \
        "FORBIDDEN"
    assert _code(_gql(client, sort, {"c": "tasks", "i": "1", "t": "2"})[1]) == "FORBIDDEN"

    assert client.patch("/items/tasks/1", json={"title": "changed"},
                        headers=admin_headers).status_code == 200
    revisions = client.get("/revisions?filter[collection][_eq]=tasks&filter[item][_eq]=1"
                           "&sort=id&fields=id", headers=admin_headers).get_json()["data"]
    revert = "mutation ($r: ID!) { utils_revert(revision: $r) }"
    assert _gql(client, revert, {"r": str(revisions[0]["id"])}, admin_headers)[1] == \
        {"data": {"utils_revert": True}}
    title = client.get("/items/tasks/1?fields=title", headers=admin_headers).get_json()["data"]
    assert title == {"title": "t1"}
    assert _code(_gql(client, revert, {"r": "999999"}, admin_headers)[1]) == "FORBIDDEN"

    status, body = _gql(client, "{ server_specs_oas server_specs_graphql(scope: system) }",
                        headers=admin_headers)
    assert status == 200 and "errors" not in body, body
    assert body["data"]["server_specs_oas"] == client.get(
        "/server/specs/oas", headers=admin_headers).get_json()
    assert body["data"]["server_specs_graphql"] == client.get(
        "/server/specs/graphql/system", headers=admin_headers).get_data(as_text=True)
    assert "type Query" in body["data"]["server_specs_graphql"]
