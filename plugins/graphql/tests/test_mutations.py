"""Mutations through ItemsService: create/update/delete (one, many, batch), read-back with the
mutation's own selection, permission-filtered schemas and errors; on every backend."""

from __future__ import annotations


def test_create_many_reads_back_with_arguments(gql, client, admin_headers):
    data = gql.data('mutation { create_articles_items(data: [{title: "x1", rating: 5}, '
                    '{title: "x2", rating: 7, author: 3}], sort: ["-rating"]) '
                    '{ id title author { name } } }')
    assert data == {"create_articles_items": [
        {"id": "14", "title": "x2", "author": {"name": "Grace Hopper"}},
        {"id": "13", "title": "x1", "author": None}]}
    data = gql.data('mutation ($d: [create_authors_input!]) { create_authors_items(data: $d) '
                    '{ name } }', {"d": [{"name": "Z"}, {"name": "Y"}]})
    assert data == {"create_authors_items": [{"name": "Z"}, {"name": "Y"}]}


def test_nested_create_through_relations(gql, client, admin_headers):
    data = gql.data('mutation { create_articles_item(data: {title: "nested", '
                    'author: {name: "New author"}, comments: [{text: "c1"}, {text: "c2"}]}) '
                    '{ title author { name } comments { text } } }')
    assert data == {"create_articles_item": {"title": "nested",
                                             "author": {"name": "New author"},
                                             "comments": [{"text": "c1"}, {"text": "c2"}]}}


def test_update_one_many_and_batch(gql, client, admin_headers):
    data = gql.data('mutation { update_articles_item(id: 1, data: {title: "T1"}) '
                    '{ id title } }')
    assert data == {"update_articles_item": {"id": "1", "title": "T1"}}
    data = gql.data('mutation { update_articles_items(ids: [2, 3], data: {rating: 99}) '
                    '{ id rating } }')
    assert data == {"update_articles_items": [{"id": "2", "rating": 99},
                                              {"id": "3", "rating": 99}]}
    data = gql.data('mutation { update_articles_batch(data: [{id: 4, title: "B4"}, '
                    '{id: 5, status: "draft"}]) { id title status } }')
    assert data == {"update_articles_batch": [
        {"id": "4", "title": "B4", "status": "draft"},
        {"id": "5", "title": "Article 5", "status": "draft"}]}
    rest = client.get("/items/articles?filter[id][_in]=1,2,4&sort=id&fields=title,rating",
                      headers=admin_headers).get_json()["data"]
    assert rest == [{"title": "T1", "rating": 17}, {"title": "Article 2", "rating": 99},
                    {"title": "B4", "rating": 68}]


def test_delete_one_and_many(gql, client, admin_headers):
    assert gql.data('mutation { delete_comments_item(id: 1) { id } }') == {
        "delete_comments_item": {"id": "1"}}
    assert gql.data('mutation { delete_comments_items(ids: [2, "3"]) { ids } }') == {
        "delete_comments_items": {"ids": ["2", "3"]}}
    rest = client.get("/items/comments", headers=admin_headers).get_json()["data"]
    assert [c["id"] for c in rest] == [4]


def test_unique_violation_is_record_not_unique_in_a_200(gql):
    r = gql('mutation { ok: create_authors_item(data: {name: "A", email: "new@example.com"}) '
            '{ name } dup: create_authors_item(data: {name: "B", email: "ada@example.com"}) '
            '{ name } }')
    assert r.status_code == 200
    body = r.get_json()
    assert body["data"] == {"ok": {"name": "A"}, "dup": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RECORD_NOT_UNIQUE"
    assert error["extensions"]["collection"] == "authors"
    assert error["extensions"]["field"] == "email"
    assert error["path"] == ["dup"]
    assert error["message"] == ('Value for field "email" in collection "authors" has to be '
                                'unique.')


def test_missing_item_update_is_forbidden(gql):
    r = gql('mutation { update_articles_item(id: 999, data: {title: "x"}) { id } }')
    assert r.status_code == 200
    body = r.get_json()
    assert body["data"] == {"update_articles_item": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_editor_mutations_allowed_and_forbidden(gql, make_user):
    editor = make_user([
        {"collection": "articles", "action": "read", "fields": ["*"]},
        {"collection": "articles", "action": "create", "fields": ["title", "status"]},
        {"collection": "articles", "action": "update", "fields": ["title"],
         "permissions": {"status": {"_eq": "draft"}}},
    ])
    h = editor["headers"]
    data = gql.data('mutation { create_articles_item(data: {title: "mine"}) { id title } }',
                    headers=h)
    assert data == {"create_articles_item": {"id": "13", "title": "mine"}}
    # a draft may be updated, a published article may not: FORBIDDEN inside a 200
    assert gql.data('mutation { update_articles_item(id: 13, data: {title: "m2"}) '
                    '{ title } }', headers=h) == {"update_articles_item": {"title": "m2"}}
    r = gql('mutation { update_articles_item(id: 3, data: {title: "no"}) { title } }',
            headers=h)
    assert r.status_code == 200
    body = r.get_json()
    assert body["data"] == {"update_articles_item": None}
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert body["errors"][0]["path"] == ["update_articles_item"]
    # fields outside the create permission are not in the input type; no delete mutation
    r = gql('mutation { create_articles_item(data: {title: "x", rating: 5}) { id } }',
            headers=h)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION"
    r = gql('mutation { delete_articles_item(id: 13) { id } }', headers=h)
    assert r.status_code == 400
    message = r.get_json()["errors"][0]["extensions"]["errors"][0]["message"]
    assert message.startswith('Cannot query field "delete_articles_item" on type "Mutation".')


def test_write_only_caller_gets_booleans(gql, make_user, client, admin_headers):
    writer = make_user([
        {"collection": "comments", "action": "create", "fields": ["*"]},
        {"collection": "comments", "action": "delete", "fields": ["*"]},
    ])
    h = writer["headers"]
    assert gql.data('mutation { create_comments_item(data: {text: "anon", article: 1}) }',
                    headers=h) == {"create_comments_item": True}
    assert gql.data('mutation { delete_comments_item(id: 4) { id } }', headers=h) == {
        "delete_comments_item": {"id": "4"}}
    texts = [c["text"] for c in client.get("/items/comments?sort=id",
                                           headers=admin_headers).get_json()["data"]]
    assert texts == ["First!", "Great read", "Hmm", "anon"]


def test_permission_validation_is_failed_validation(gql, make_user):
    editor = make_user([
        {"collection": "articles", "action": "read", "fields": ["*"]},
        {"collection": "articles", "action": "create", "fields": ["*"],
         "validation": {"rating": {"_lte": 10}}},
    ])
    r = gql('mutation { create_articles_item(data: {title: "x", rating: 50}) { id } }',
            headers=editor["headers"])
    assert r.status_code == 200
    body = r.get_json()
    assert body["data"] == {"create_articles_item": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FAILED_VALIDATION"]
    assert body["errors"][0]["extensions"]["field"] == "rating"
    assert body["errors"][0]["path"] == ["create_articles_item"]
