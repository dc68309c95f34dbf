"""The response cache against a real Redis: hits and misses, who may see a cached answer,
purging (also across two instances), and Redis going away mid-run."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

pytestmark = pytest.mark.backends("sqlite")

ARTICLES = "/items/articles?sort=id&limit=25"


def cached(resp: Any) -> str | None:
    return resp.headers.get("X-Cache")


@pytest.fixture
def blog(make_app: Any, cache_config: dict[str, Any], kit) -> Any:
    app = make_app(config=cache_config)
    kit.seed_blog(app)
    return app


@pytest.fixture
def client(blog: Any) -> Any:
    return blog.test_client()


def test_miss_then_hit(client, admin_headers):
    first = client.get(ARTICLES, headers=admin_headers)
    assert first.status_code == 200 and cached(first) == "MISS"
    second = client.get(ARTICLES, headers=admin_headers)
    assert second.status_code == 200 and cached(second) == "HIT"
    assert second.get_json() == first.get_json()
    assert second.headers["Content-Type"].startswith("application/json")
    # the parameters' order does not matter, their values do
    assert cached(client.get("/items/articles?limit=25&sort=id", headers=admin_headers)) == "HIT"
    assert cached(client.get("/items/articles?sort=-id&limit=25",
                             headers=admin_headers)) == "MISS"


def test_answers_are_kept_apart_by_accept_language(client, admin_headers):
    """The i18n plugin folds a translation by Accept-Language: a Spanish answer must never
    be served to a request in another language, or with no header."""
    url = "/items/articles?limit=5&sort=id"
    es = {**admin_headers, "Accept-Language": "es"}
    assert cached(client.get(url, headers=es)) == "MISS"
    assert cached(client.get(url, headers=es)) == "HIT"
    assert cached(client.get(url, headers=admin_headers)) == "MISS"
    assert cached(client.get(url, headers={**admin_headers, "Accept-Language": "de"})) == "MISS"


def test_encoded_characters_do_not_merge_parameters(client, admin_headers, kit):
    both = "/items/articles?filter[title][_eq]=Article%201&limit=1"
    one = "/items/articles?filter[title][_eq]=Article%201%26limit%3D1"
    assert kit.ids(client.get(both, headers=admin_headers)) == [1]
    r = client.get(one, headers=admin_headers)
    assert cached(r) == "MISS" and kit.ids(r) == []


def test_cache_control_headers(make_app, cache_config, admin_headers, kit):
    app = make_app(config={**cache_config, "CACHE_AUTO_PURGE": "false", "CACHE_TTL": "2m"})
    kit.seed_blog(app)
    client = app.test_client()
    miss = client.get(ARTICLES, headers=admin_headers)
    assert miss.headers["Cache-Control"] == "private, max-age=120"
    hit = client.get(ARTICLES, headers=admin_headers)
    assert cached(hit) == "HIT"
    assert hit.headers["Cache-Control"] in ("private, max-age=120", "private, max-age=119")
    # not cacheable: Directus's no-cache
    r = client.get(ARTICLES + "&export=json", headers=admin_headers)
    assert cached(r) is None


def test_cache_control_with_auto_purge(client, admin_headers):
    # an answer may go stale any moment: clients must revalidate (Directus's rule)
    assert client.get(ARTICLES, headers=admin_headers).headers["Cache-Control"] == "no-cache"
    assert client.get(ARTICLES, headers=admin_headers).headers["Cache-Control"] == "no-cache"


def test_not_cached(client, admin_headers):
    for _ in range(2):
        r = client.get("/items/nope", headers=admin_headers)
        assert r.status_code == 403 and cached(r) is None  # errors never
        r = client.get("/items/articles")
        assert r.status_code == 403 and cached(r) is None
        r = client.get(ARTICLES + "&export=csv", headers=admin_headers)
        assert r.status_code == 200 and cached(r) is None
        r = client.get("/server/health", headers=admin_headers)
        assert cached(r) is None
        r = client.get("/utils/random/string")
        assert cached(r) is None
    assert cached(client.get("/server/ping")) is None


def test_cache_skip_allowed(make_app, cache_config, admin_headers, kit):
    app = make_app(config={**cache_config, "CACHE_SKIP_ALLOWED": "true"})
    kit.seed_blog(app)
    client = app.test_client()
    client.get(ARTICLES, headers=admin_headers)
    r = client.get(ARTICLES, headers={**admin_headers, "Cache-Control": "no-store"})
    assert r.status_code == 200 and cached(r) is None
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "HIT"


def test_skip_not_allowed_by_default(client, admin_headers):
    client.get(ARTICLES, headers=admin_headers)
    r = client.get(ARTICLES, headers={**admin_headers, "Cache-Control": "no-store"})
    assert cached(r) == "HIT"


def test_value_max_size(make_app, cache_config, admin_headers, kit):
    app = make_app(config={**cache_config, "CACHE_VALUE_MAX_SIZE": "200b"})
    kit.seed_blog(app)
    client = app.test_client()
    for _ in range(2):
        assert cached(client.get(ARTICLES, headers=admin_headers)) is None  # too big
    client.get("/items/articles/1?fields=id", headers=admin_headers)
    assert cached(client.get("/items/articles/1?fields=id", headers=admin_headers)) == "HIT"


def test_admin_answer_not_served_to_reader(client, admin_headers, kit):
    """The key holds the permission set: callers that may see less never get the admin's
    cached page; callers with the same policies share theirs."""
    readers = kit.make_policy(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["id", "title", "status"],
         "permissions": {"status": {"_eq": "published"}}}])
    alice = kit.make_user(client, admin_headers, readers["role"])
    bob = kit.make_user(client, admin_headers, readers["role"])
    admin = client.get(ARTICLES, headers=admin_headers)
    assert cached(admin) == "MISS" and len(kit.ids(admin)) == 12
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "HIT"

    r = client.get(ARTICLES, headers=alice["headers"])
    assert cached(r) == "MISS"
    assert kit.ids(r) == [2, 4, 6, 8, 10, 12]
    assert set(r.get_json()["data"][0]) == {"id", "title", "status"}
    shared = client.get(ARTICLES, headers=bob["headers"])  # same policies: same answer
    assert cached(shared) == "HIT" and shared.get_json() == r.get_json()

    anonymous = client.get(ARTICLES)
    assert anonymous.status_code == 403 and cached(anonymous) is None


def test_current_user_rules_are_cached_per_user(client, admin_headers, blog, kit):
    owners = kit.make_policy(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"],
         "permissions": {"owner": {"_eq": "$CURRENT_USER"}}}])
    alice = kit.make_user(client, admin_headers, owners["role"])
    bob = kit.make_user(client, admin_headers, owners["role"])
    client.patch("/items/articles", json={"keys": [1, 2], "data": {"owner": alice["id"]}},
                 headers=admin_headers)
    client.patch("/items/articles/3", json={"owner": bob["id"]}, headers=admin_headers)

    a = client.get(ARTICLES, headers=alice["headers"])
    assert cached(a) == "MISS" and kit.ids(a) == [1, 2]
    b = client.get(ARTICLES, headers=bob["headers"])
    assert cached(b) == "MISS" and kit.ids(b) == [3]  # not alice's page
    assert kit.ids(client.get(ARTICLES, headers=alice["headers"])) == [1, 2]
    assert cached(client.get(ARTICLES, headers=bob["headers"])) == "HIT"


def test_current_user_in_query_is_cached_per_user(client, admin_headers, kit):
    readers = kit.make_policy(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]}])
    alice = kit.make_user(client, admin_headers, readers["role"])
    bob = kit.make_user(client, admin_headers, readers["role"])
    client.patch("/items/articles/5", json={"owner": alice["id"]}, headers=admin_headers)
    url = "/items/articles?filter[owner][_eq]=$CURRENT_USER"
    assert kit.ids(client.get(url, headers=alice["headers"])) == [5]
    r = client.get(url, headers=bob["headers"])
    assert cached(r) == "MISS" and kit.ids(r) == []


def test_me_routes_are_per_user(client, admin_headers, kit):
    editors = kit.make_policy(client, admin_headers, [
        {"collection": "articles", "action": "read", "fields": ["*"]}])
    alice = kit.make_user(client, admin_headers, editors["role"])
    bob = kit.make_user(client, admin_headers, editors["role"])
    assert client.get("/users/me", headers=alice["headers"]).get_json()["data"]["id"] == \
        alice["id"]
    r = client.get("/users/me", headers=bob["headers"])
    assert r.get_json()["data"]["id"] == bob["id"]


def test_purge_on_write(client, admin_headers):
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "MISS"
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "HIT"
    r = client.patch("/items/articles/1", json={"title": "Changed"}, headers=admin_headers)
    assert r.status_code == 200
    fresh = client.get(ARTICLES, headers=admin_headers)
    assert cached(fresh) == "MISS"
    assert fresh.get_json()["data"][0]["title"] == "Changed"


def test_ignored_collections_and_no_auto_purge(make_app, cache_config, admin_headers, kit):
    app = make_app(config={**cache_config, "CACHE_AUTO_PURGE": "false"})
    kit.seed_blog(app)
    client = app.test_client()
    client.get(ARTICLES, headers=admin_headers)
    client.patch("/items/articles/1", json={"title": "Changed"}, headers=admin_headers)
    stale = client.get(ARTICLES, headers=admin_headers)  # Directus: stale until the TTL
    assert cached(stale) == "HIT" and stale.get_json()["data"][0]["title"] == "Article 1"
    # permission changes always purge: a cached answer must not outlive a revoked right
    kit.make_policy(client, admin_headers, [{"collection": "articles", "action": "read"}])
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "MISS"
    # and so does POST /utils/cache/clear (admins only)
    client.get(ARTICLES, headers=admin_headers)
    assert client.post("/utils/cache/clear").status_code == 403
    assert client.post("/utils/cache/clear", headers=admin_headers).status_code == 200
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "MISS"


def test_ignore_list(make_app, cache_config, admin_headers, kit):
    app = make_app(config={**cache_config, "CACHE_AUTO_PURGE_IGNORE_LIST": "authors"})
    kit.seed_blog(app)
    client = app.test_client()
    client.get(ARTICLES, headers=admin_headers)
    client.patch("/items/authors/1", json={"name": "Renamed"}, headers=admin_headers)
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "HIT"
    client.patch("/items/articles/1", json={"title": "x"}, headers=admin_headers)
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "MISS"


def test_memory_store(make_app, admin_headers, kit):
    app = make_app(config={"CACHE_ENABLED": "true", "CACHE_STORE": "memory",
                           "CACHE_AUTO_PURGE": "true", "CACHE_STATUS_HEADER": "X-Cache"})
    kit.seed_blog(app)
    client = app.test_client()
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "MISS"
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "HIT"
    client.patch("/items/articles/2", json={"title": "Two"}, headers=admin_headers)
    r = client.get(ARTICLES, headers=admin_headers)
    assert cached(r) == "MISS" and r.get_json()["data"][1]["title"] == "Two"


def test_disabled_by_default(make_app, admin_headers, kit):
    app = make_app(config={"CACHE_STATUS_HEADER": "X-Cache"})
    kit.seed_blog(app)
    client = app.test_client()
    for _ in range(2):
        r = client.get(ARTICLES, headers=admin_headers)
        assert r.status_code == 200 and cached(r) is None
        assert r.headers["Cache-Control"] == "no-cache"


def test_health_check(client, admin_headers):
    body = client.get("/server/health", headers=admin_headers).get_json()
    assert body["checks"]["cache:responseTime"][0]["status"] in ("ok", "warn")
    assert body["status"] in ("ok", "warn")


def test_stats(blog, client, admin_headers):
    client.get(ARTICLES, headers=admin_headers)
    client.get(ARTICLES, headers=admin_headers)
    stats = blog.extensions["transom"].extensions["transom_cache_redis"].stats
    assert stats["hits"] == 1 and stats["misses"] == 1 and stats["stores"] == 1


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_write_through_one_instance_purges_the_other(make_app, cache_config, admin_headers, kit):
    one = make_app(config=cache_config)
    kit.seed_blog(one)
    two = make_app(config=cache_config)
    c1, c2 = one.test_client(), two.test_client()
    assert cached(c2.get(ARTICLES, headers=admin_headers)) == "MISS"
    assert cached(c2.get(ARTICLES, headers=admin_headers)) == "HIT"
    assert cached(c1.get(ARTICLES, headers=admin_headers)) == "HIT"  # shared store
    assert c1.patch("/items/articles/1", json={"title": "From one"},
                    headers=admin_headers).status_code == 200
    fresh = c2.get(ARTICLES, headers=admin_headers)
    assert cached(fresh) == "MISS"
    assert fresh.get_json()["data"][0]["title"] == "From one"


def test_schema_change_reaches_the_other_instance(make_app, cache_config, admin_headers, kit):
    one = make_app(config=cache_config)
    kit.seed_blog(one)
    two = make_app(config=cache_config)
    c1, c2 = one.test_client(), two.test_client()
    assert c2.get("/items/notes", headers=admin_headers).status_code == 403
    r = c1.post("/collections", json={
        "collection": "notes", "schema": {}, "meta": {},
        "fields": [{"field": "id", "type": "integer",
                    "schema": {"is_primary_key": True, "has_auto_increment": True}},
                   {"field": "text", "type": "string"}]}, headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    assert c1.post("/items/notes", json={"text": "hi"}, headers=admin_headers).status_code == 200
    r = c2.get("/items/notes", headers=admin_headers)
    assert r.status_code == 200, r.get_json()
    assert [n["text"] for n in r.get_json()["data"]] == ["hi"]


def test_redis_outage(make_app, own_redis, admin_headers, caplog, kit):
    """Redis dies mid-run: every request still succeeds, uncached, one warning is logged;
    when Redis is back on the same port, caching resumes by itself."""
    app = make_app(config={"CACHE_ENABLED": "true", "CACHE_STORE": "redis",
                           "CACHE_REDIS": own_redis.url, "CACHE_STATUS_HEADER": "X-Cache",
                           "CACHE_AUTO_PURGE": "true"})
    kit.seed_blog(app)
    client = app.test_client()
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "MISS"
    assert cached(client.get(ARTICLES, headers=admin_headers)) == "HIT"

    own_redis.stop()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="transom.cache"):
        for i in range(20):
            r = client.get(ARTICLES, headers=admin_headers)
            assert r.status_code == 200 and cached(r) is None
            assert len(kit.ids(r)) == 12
            if i == 10:
                assert client.patch("/items/articles/1", json={"title": "During outage"},
                                    headers=admin_headers).status_code == 200
            time.sleep(0.05)
        assert client.get("/server/health", headers=admin_headers).status_code == 200
    warnings = [rec for rec in caplog.records if "unreachable" in rec.getMessage()]
    assert len(warnings) == 1, [rec.getMessage() for rec in caplog.records]

    own_redis.start()
    deadline = time.monotonic() + 10
    seen: list[str | None] = []
    while time.monotonic() < deadline:
        r = client.get(ARTICLES, headers=admin_headers)
        assert r.status_code == 200
        seen.append(cached(r))
        if seen[-2:] == ["MISS", "HIT"]:
            break
        time.sleep(0.1)
    assert seen[-2:] == ["MISS", "HIT"], seen
    assert r.get_json()["data"][0]["title"] == "During outage"


def test_purge_lost_in_an_outage_is_made_up(redis_url, namespace, monkeypatch, caplog):
    """Redis unreachable (but its data intact, as in a network partition) while a write
    purges: once it answers again, nothing cached before is served."""
    import redis as redis_lib
    from transom_cache_redis.stores import RETRY_FIRST_S, RedisStore, StoreUnavailable

    store = RedisStore(redis_url, namespace, 0.2)
    found = store.lookup("k")
    assert (found.generation, found.value) == ("0", None)
    store.store(found.generation, "k", b"old answer", 60_000)
    assert store.lookup("k").value == b"old answer"

    real_incr = store.client.incr

    def unreachable(*args: Any, **kwargs: Any) -> Any:
        raise redis_lib.ConnectionError("no route to host")

    monkeypatch.setattr(store.client, "incr", unreachable)
    with caplog.at_level(logging.WARNING, logger="transom.cache"):
        with pytest.raises(StoreUnavailable):
            store.purge()
        with pytest.raises(StoreUnavailable):  # breaker open: not even tried
            store.lookup("k")
    assert not store.available
    monkeypatch.setattr(store.client, "incr", real_incr)
    time.sleep(RETRY_FIRST_S + 0.05)
    after = store.lookup("k")
    assert store.available
    assert after.generation == "1" and after.value is None
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    store.close()


def test_a_lost_purge_of_another_worker_hides_old_answers(redis_url: str,
                                                           namespace: str) -> None:
    """A purge that could not reach Redis (a pause) is owed by every worker: the next
    lookup bumps the generation first, so the answer stored before the write is gone."""
    from transom_cache_redis.stores import RedisStore

    store = RedisStore(redis_url, namespace, 0.5)
    try:
        before = store.lookup("k")
        store.store(before.generation, "k", b"old answer", 60_000)
        assert store.lookup("k").value == b"old answer"
        store.owe_purge()  # what the OWED_TOPIC message does in this worker
        after = store.lookup("k")
        assert after.value is None
        assert after.generation != before.generation
        assert store.available
    finally:
        store.close()
