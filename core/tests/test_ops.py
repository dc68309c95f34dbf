"""Operations: structured logs and request ids, CORS, rate limits, health checks."""

from __future__ import annotations

import json
import logging
import types
import uuid
from typing import Any

import pytest
from flask import Blueprint

from transom import hookimpl
from transom.accountability import Accountability
from transom.default_plugins.cors import parse_origin
from transom.default_plugins.rate_limit import ms_text
from transom.default_plugins.request_log import sanitize_request_id
from transom.health import HealthCheck, check_local_folder
from transom.logs import JsonFormatter, PrettyFormatter
from transom.ratelimit import MemoryStore

pytestmark = pytest.mark.backends("sqlite")

REDIS_URL = "redis://127.0.0.1:6379/0"


def plugin(name: str, **hooks: Any) -> types.SimpleNamespace:
    """A plugin object whose attributes are hook implementations."""
    ns = types.SimpleNamespace(name=name)
    for hook_name, fn in hooks.items():
        setattr(ns, hook_name, hookimpl(fn))
    return ns


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def access_lines(text: str) -> list[dict[str, Any]]:
    return [line for line in json_lines(text) if line.get("logger") == "transom.access"]


def api_key_admin() -> types.SimpleNamespace:
    """Admin through ``X-Api-Key``: needs no database, so it works while the database is
    down."""
    def resolve(cms: Any, request: Any) -> Any:
        if request.headers.get("X-Api-Key") == "ops":
            return Accountability(user="ops-user", admin=True, app=True)
        return None

    return plugin("ops_admin", accountability_from_request=resolve)


# -- logs ---------------------------------------------------------------------------------
def test_access_log_is_one_json_line_per_request(make_app, capfd):
    app = make_app({"LOG_LEVEL": "info", "LOG_STYLE": "raw", "IP_TRUST_PROXY": "true"})
    capfd.readouterr()
    resp = app.test_client().get("/server/info?x=secret",
                                 headers={"X-Request-Id": "abc-123",
                                          "X-Forwarded-For": "203.0.113.9"})
    assert resp.headers["X-Request-Id"] == "abc-123"
    lines = access_lines(capfd.readouterr().out)
    assert len(lines) == 1
    line = lines[0]
    assert line["level"] == "info"
    assert line["msg"] == "GET /server/info 200"
    assert line["request_id"] == "abc-123"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/server/info", 200)
    assert line["ip"] == "203.0.113.9"
    assert line["user_id"] is None
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["time"].endswith("Z") and "T" in line["time"]
    assert "secret" not in json.dumps(line)  # the query string (tokens) is never logged


def test_access_log_names_the_user_once_resolved(make_app, capfd, admin_headers):
    app = make_app({"LOG_LEVEL": "info", "LOG_STYLE": "raw"})
    cms = app.extensions["transom"]
    with cms.connect() as conn:
        admin_id = conn.exec_driver_sql(
            "SELECT id FROM directus_users WHERE email = 'admin@example.com'").scalar()
    capfd.readouterr()
    app.test_client().get("/server/info", headers=admin_headers)
    (line,) = access_lines(capfd.readouterr().out)
    assert line["user_id"] == str(admin_id)


def test_request_ids_are_generated_or_sanitised(make_app):
    client = make_app({"LOG_LEVEL": "warn"}).test_client()
    generated = client.get("/server/ping").headers["X-Request-Id"]
    assert len(generated) == 32 and int(generated, 16) >= 0
    assert client.get("/server/ping").headers["X-Request-Id"] != generated
    cleaned = client.get("/server/ping", headers={"X-Request-Id": "a b<script>;c"})
    assert cleaned.headers["X-Request-Id"] == "abscriptc"
    long = client.get("/server/ping", headers={"X-Request-Id": "x" * 500})
    assert long.headers["X-Request-Id"] == "x" * 128
    junk = client.get("/server/ping", headers={"X-Request-Id": "<>;;"})
    assert len(junk.headers["X-Request-Id"]) == 32
    # errors carry the id too
    assert client.get("/nowhere", headers={"X-Request-Id": "r1"}).headers["X-Request-Id"] == "r1"
    assert sanitize_request_id(None) is None


def test_lines_logged_while_serving_carry_the_request_id(make_app, capfd):
    bp = Blueprint("ops_noisy", __name__)

    @bp.get("/noisy")
    def noisy() -> str:
        logging.getLogger("transom.noisy").warning("careful", extra={"thing": 42})
        return "ok"

    app = make_app({"LOG_LEVEL": "info", "LOG_STYLE": "raw"},
                   plugins=[plugin("noisy", register_blueprints=lambda cms: bp)])
    capfd.readouterr()
    rid = app.test_client().get("/noisy").headers["X-Request-Id"]
    lines = json_lines(capfd.readouterr().out)
    warning = next(line for line in lines if line["logger"] == "transom.noisy")
    assert warning["level"] == "warn" and warning["msg"] == "careful"
    assert warning["thing"] == 42 and warning["request_id"] == rid
    access = next(line for line in lines if line["logger"] == "transom.access")
    assert access["request_id"] == rid


def test_log_levels_and_quiet_paths(make_app, capfd):
    client = make_app({"LOG_LEVEL": "info", "LOG_STYLE": "raw",
                       "LOG_HTTP_IGNORE_PATHS": "/server/info"}).test_client()
    capfd.readouterr()
    client.get("/server/ping")  # debug only
    client.get("/server/info")  # ignored
    client.get("/server/health")
    assert [line["path"] for line in access_lines(capfd.readouterr().out)] == ["/server/health"]

    client = make_app({"LOG_LEVEL": "debug", "LOG_STYLE": "raw"}).test_client()
    capfd.readouterr()
    client.get("/server/ping")
    (line,) = access_lines(capfd.readouterr().out)
    assert line["level"] == "debug" and line["path"] == "/server/ping"

    client = make_app({"LOG_LEVEL": "warn", "LOG_STYLE": "raw"}).test_client()
    capfd.readouterr()
    client.get("/server/health")
    assert access_lines(capfd.readouterr().out) == []
    assert logging.getLogger("transom").level == logging.WARNING

    make_app({"LOG_LEVEL": "silent"}, bootstrap=False)
    logging.getLogger("transom").critical("never shown")
    assert "never shown" not in capfd.readouterr().out


def test_logging_is_set_up_once_per_process(make_app, capfd):
    for _ in range(3):
        app = make_app({"LOG_LEVEL": "info", "LOG_STYLE": "raw"}, bootstrap=False)
    ours = [h for h in logging.getLogger("transom").handlers
            if getattr(h, "_transom_handler", False)]
    assert len(ours) == 1
    capfd.readouterr()
    app.test_client().get("/server/health")
    assert len(access_lines(capfd.readouterr().out)) == 1


def test_access_records_reach_caplog(make_app, caplog):
    app = make_app({"LOG_LEVEL": "info", "LOG_STYLE": "raw"})
    with caplog.at_level(logging.INFO, logger="transom"):
        app.test_client().get("/server/health", headers={"X-Request-Id": "cap-1"})
    (record,) = [r for r in caplog.records if r.name == "transom.access"]
    assert record.request_id == "cap-1" and record.status == 200 and record.method == "GET"


def test_pretty_style(make_app, capfd):
    app = make_app({"LOG_LEVEL": "info", "LOG_STYLE": "pretty"})
    capfd.readouterr()
    app.test_client().get("/server/health", headers={"X-Request-Id": "p-1"})
    out = capfd.readouterr().out
    line = next(x for x in out.splitlines() if "transom.access" in x)
    assert not line.startswith("{")
    assert "INFO (transom.access): GET /server/health 200" in line
    assert "request_id=p-1" in line and "ms " in line and "status=" not in line


def test_formatters_render_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        record = logging.LogRecord("transom.x", logging.ERROR, __file__, 1, "failed %s",
                                   ("here",), sys.exc_info())
    data = json.loads(JsonFormatter().format(record))
    assert data["msg"] == "failed here" and data["level"] == "error"
    assert "ValueError: boom" in data["exc"]
    assert "ValueError: boom" in PrettyFormatter().format(record)


# -- CORS ---------------------------------------------------------------------------------
def test_cors_is_off_by_default(client):
    resp = client.get("/server/ping", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_cors_reflects_origin_and_answers_preflights_without_auth(make_app):
    client = make_app({"CORS_ENABLED": "true", "CORS_ORIGIN": "true",
                       "RATE_LIMITER_ENABLED": "true", "RATE_LIMITER_POINTS": "1",
                       "RATE_LIMITER_DURATION": "60"}).test_client()
    origin = {"Origin": "https://app.example.com"}
    for _ in range(3):  # preflights end before the limiter: none of them is counted
        pre = client.options("/items/anything", headers={
            **origin, "Access-Control-Request-Method": "PATCH",
            "Access-Control-Request-Headers": "Authorization, Content-Type"})
        assert pre.status_code == 204
        assert pre.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
        assert set(pre.headers["Access-Control-Allow-Methods"].replace(" ", "").split(",")) \
            == {"GET", "POST", "PATCH", "DELETE"}
        allowed = pre.headers["Access-Control-Allow-Headers"].lower()
        assert "authorization" in allowed and "content-type" in allowed
        assert pre.headers["Access-Control-Max-Age"] == "18000"
        assert pre.headers["Access-Control-Allow-Credentials"] == "true"
    resp = client.get("/server/info", headers=origin)
    assert resp.status_code == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert resp.headers["Access-Control-Expose-Headers"] == "Content-Range"
    assert "Origin" in resp.headers["Vary"]
    # errors (here the limiter's 429) get the CORS headers too, so browsers can read them
    limited = client.get("/server/info", headers=origin)
    assert limited.status_code == 429
    assert limited.headers["Access-Control-Allow-Origin"] == "https://app.example.com"


def test_cors_origin_list_and_wildcard(make_app):
    client = make_app({"CORS_ENABLED": "true",
                       "CORS_ORIGIN": "https://a.example.com, https://b.example.com",
                       "CORS_METHODS": "GET", "CORS_MAX_AGE": "60"}).test_client()
    ok = client.get("/server/ping", headers={"Origin": "https://b.example.com"})
    assert ok.headers["Access-Control-Allow-Origin"] == "https://b.example.com"
    other = client.get("/server/ping", headers={"Origin": "https://evil.example.com"})
    assert "Access-Control-Allow-Origin" not in other.headers
    pre = client.options("/server/ping", headers={"Origin": "https://a.example.com",
                                                   "Access-Control-Request-Method": "GET"})
    assert pre.status_code == 204 and pre.headers["Access-Control-Max-Age"] == "60"
    assert pre.headers["Access-Control-Allow-Methods"] == "GET"
    error = client.get("/items/nothing", headers={"Origin": "https://a.example.com"})
    assert error.status_code == 403
    assert error.headers["Access-Control-Allow-Origin"] == "https://a.example.com"

    star = make_app({"CORS_ENABLED": "true", "CORS_ORIGIN": "*"}).test_client()
    resp = star.get("/server/ping", headers={"Origin": "https://x.example.com"})
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in resp.headers

    off = make_app({"CORS_ENABLED": "true", "CORS_ORIGIN": "false"}).test_client()
    resp = off.get("/server/ping", headers={"Origin": "https://x.example.com"})
    assert "Access-Control-Allow-Origin" not in resp.headers


def test_parse_origin():
    assert parse_origin("true") is True and parse_origin("FALSE") is False
    assert parse_origin("*") == "*"
    assert parse_origin("https://a.com/") == ["https://a.com"]
    [pattern] = parse_origin("regex:^https://.*\\.example\\.com$")
    assert pattern.match("https://app.example.com") and not pattern.match("https://x.org")
    [escaped] = parse_origin("https://a.com(1)")
    assert escaped.match("https://A.com(1)") and not escaped.match("https://a.com(1)x")


# -- rate limits ---------------------------------------------------------------------------
def limited_app(make_app: Any, **config: Any) -> Any:
    base = {"RATE_LIMITER_ENABLED": "true", "RATE_LIMITER_POINTS": "3",
            "RATE_LIMITER_DURATION": "60", "LOG_LEVEL": "warn"}
    return make_app({**base, **config})


def test_rate_limit_per_ip(make_app):
    app = limited_app(make_app, IP_TRUST_PROXY="true")  # X-Forwarded-For: another caller
    client = app.test_client()
    for _ in range(3):
        assert client.get("/server/info").status_code == 200
    resp = client.get("/server/info")
    assert resp.status_code == 429
    assert 1 <= int(resp.headers["Retry-After"]) <= 60
    body = resp.get_json()
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "REQUESTS_EXCEEDED"
    assert error["extensions"]["limit"] == 3
    assert error["message"].startswith("Too many requests, retry after ")
    assert error["message"].endswith("s.")
    assert "X-Request-Id" in resp.headers
    # another address has its own budget
    other = {"X-Forwarded-For": "198.51.100.7"}
    assert client.get("/server/info", headers=other).status_code == 200
    # /server/ping is counted too (Directus mounts it after the limiters)
    assert client.get("/server/ping").status_code == 429
    # and the limiter answers before authentication: a bad token still gets 429
    bad = client.get("/items/x", headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 429


def test_rate_limit_window_resets(make_app):
    app = limited_app(make_app, RATE_LIMITER_POINTS="2", RATE_LIMITER_DURATION="10")
    now = [1000.0]
    limiter = app.extensions["transom"].extensions["transom_rate_limit"]
    limiter.store.clock = lambda: now[0]
    client = app.test_client()
    assert [client.get("/server/ping").status_code for _ in range(3)] == [200, 200, 429]
    now[0] += 4
    resp = client.get("/server/ping")
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "6"
    now[0] += 6
    assert client.get("/server/ping").status_code == 200


def test_rate_limit_window_resets_in_real_time(make_app):
    import time

    client = limited_app(make_app, RATE_LIMITER_POINTS="1",
                         RATE_LIMITER_DURATION="0.3").test_client()
    assert client.get("/server/ping").status_code == 200
    assert client.get("/server/ping").status_code == 429
    time.sleep(0.35)
    assert client.get("/server/ping").status_code == 200


def test_global_rate_limit_spans_addresses(make_app):
    client = make_app({"RATE_LIMITER_GLOBAL_ENABLED": "true",
                       "RATE_LIMITER_GLOBAL_POINTS": "2",
                       "RATE_LIMITER_GLOBAL_DURATION": "60"}).test_client()
    codes = [client.get("/server/ping", headers={"X-Forwarded-For": f"192.0.2.{i}"})
             .status_code for i in range(3)]
    assert codes == [200, 200, 429]


def test_rate_limiter_runs_before_other_request_hooks(make_app):
    seen: list[str] = []

    def init(cms: Any, app: Any) -> None:
        @app.before_request
        def eager_auth() -> None:  # a plugin that authenticates in a before_request
            seen.append("auth")

    app = make_app({"RATE_LIMITER_ENABLED": "true", "RATE_LIMITER_POINTS": "1",
                    "RATE_LIMITER_DURATION": "60", "CORS_ENABLED": "true",
                    "CORS_ORIGIN": "true"},
                   plugins=[plugin("eager", init_app=init)])
    names = [f.__name__ for f in app.before_request_funcs[None]]
    # the messenger's check comes first of all: state from other workers, then the front
    assert names[:4] == ["transom_messenger_sync", "step_request_id",
                         "step_cors_preflight", "step_rate_limit"]
    client = app.test_client()
    client.get("/server/ping")
    assert client.get("/server/ping").status_code == 429
    assert seen == ["auth"]  # the refused request never reached it


def test_memory_store_is_bounded():
    now = [0.0]
    store = MemoryStore(max_keys=3, clock=lambda: now[0])
    for i in range(10):
        store.hit(f"ip:{i}", 5, 1000)
    assert len(store) == 3
    store.hit("ip:9", 5, 1000)  # recently used keys stay
    now[0] = 5.0
    store.hit("ip:new", 5, 1000)  # ended windows are dropped
    assert len(store) == 1
    hit = store.hit("k", 1, 2000)
    assert hit.allowed and hit.remaining == 0 and hit.reset_ms == 2000
    assert not store.hit("k", 1, 2000).allowed


def test_ms_text_matches_the_ms_package():
    assert ms_text(900) == "900ms"
    assert ms_text(1000) == "1s" and ms_text(1500) == "2s" and ms_text(59_000) == "59s"
    assert ms_text(60_000) == "1m" and ms_text(7_200_000) == "2h"


def test_rate_limit_redis_store_is_shared(make_app):
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.skip(f"Redis is not reachable: {exc}")
    prefix = f"transom-test:{uuid.uuid4().hex}:"
    config = {"RATE_LIMITER_STORE": "redis", "RATE_LIMITER_REDIS": REDIS_URL,
              "RATE_LIMITER_KEY_PREFIX": prefix, "IP_TRUST_PROXY": "true"}
    try:
        one = limited_app(make_app, **config).test_client()
        two = limited_app(make_app, **config).test_client()
        assert one.get("/server/ping").status_code == 200
        assert two.get("/server/ping").status_code == 200
        assert one.get("/server/ping").status_code == 200
        resp = two.get("/server/ping")
        assert resp.status_code == 429
        assert 1 <= int(resp.headers["Retry-After"]) <= 60
        ttl = client.pttl(f"{prefix}ip:127.0.0.1")
        assert 0 < ttl <= 60_000
        assert two.get("/server/ping", headers={"X-Forwarded-For": "192.0.2.1"}) \
            .status_code == 200
    finally:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()


def test_rate_limit_falls_back_to_a_local_limit_when_redis_is_down(make_app, caplog):
    pytest.importorskip("redis")
    app = limited_app(make_app, RATE_LIMITER_POINTS="2", RATE_LIMITER_STORE="redis",
                      RATE_LIMITER_REDIS="redis://127.0.0.1:1/0")
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="transom.ratelimit"):
        codes = [client.get("/server/ping").status_code for _ in range(4)]
    # requests still work, and this process still counts: not "unlimited while down"
    assert codes == [200, 200, 429, 429]
    warnings = [r for r in caplog.records if r.name == "transom.ratelimit"]
    assert len(warnings) == 1 and "unreachable" in warnings[0].getMessage()


def test_rate_limiter_health_check(make_app):
    app = make_app({"RATE_LIMITER_ENABLED": "true"}, plugins=[api_key_admin()])
    body = app.test_client().get("/server/health", headers={"X-Api-Key": "ops"}).get_json()
    (entry,) = body["checks"]["rateLimiter:responseTime"]
    assert entry["componentType"] == "ratelimiter" and entry["status"] == "ok"

    down = make_app({"RATE_LIMITER_ENABLED": "true", "RATE_LIMITER_STORE": "redis",
                     "RATE_LIMITER_REDIS": "redis://127.0.0.1:1/0"},
                    plugins=[api_key_admin()])
    resp = down.test_client().get("/server/health", headers={"X-Api-Key": "ops"})
    assert resp.status_code == 200  # the limiter fails open: not required
    assert resp.get_json()["status"] == "warn"
    assert resp.get_json()["checks"]["rateLimiter:responseTime"][0]["status"] == "warn"


# -- health --------------------------------------------------------------------------------
HEALTH_KEYS = {"status", "componentType", "observedValue", "observedUnit", "threshold"}


def test_health_shape_for_admins(make_app, admin_headers, tmp_path):
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    app = make_app({"STORAGE_LOCAL_ROOT": str(uploads)})
    client = app.test_client()
    for path in ("/server/health",):  # /status has its own document (test_status)
        resp = client.get(path, headers=admin_headers)
        assert resp.status_code == 200
        assert resp.mimetype == "application/health+json"
        body = resp.get_json()
        assert body["status"] == "ok"
        assert body["releaseId"] and body["serviceId"] == "test-key"
        (db,) = body["checks"]["sqlite:responseTime"]
        assert set(db) == HEALTH_KEYS
        assert db["componentType"] == "datastore" and db["observedUnit"] == "ms"
        assert db["threshold"] == 150 and db["status"] == "ok"
        (storage,) = body["checks"]["storage:local:responseTime"]
        assert set(storage) == HEALTH_KEYS
        assert storage["componentType"] == "objectstore" and storage["threshold"] == 750
        (gauge,) = body["checks"]["sqlite:connectionsAvailable"]
        assert gauge["status"] == "ok" and isinstance(gauge["observedValue"], int)
        assert "sqlite:connectionsUsed" in body["checks"]
    assert list(uploads.iterdir()) == []  # the storage probe cleans up
    assert client.get("/server/health").get_json() == {"status": "ok"}


@pytest.mark.backends("sqlite", "postgres", "mysql")
def test_health_names_the_database_vendor(make_app):
    app = make_app(plugins=[api_key_admin()])
    body = app.test_client().get("/server/health", headers={"X-Api-Key": "ops"}).get_json()
    vendor = app.extensions["transom"].dialect.vendor or app.extensions["transom"].dialect.name
    assert body["status"] == "ok"
    assert body["checks"][f"{vendor}:responseTime"][0]["status"] == "ok"


def test_health_warns_on_slow_or_failing_optional_checks(make_app, tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    app = make_app({"STORAGE_LOCAL_ROOT": str(not_a_folder)}, plugins=[api_key_admin()])
    client = app.test_client()
    resp = client.get("/server/health", headers={"X-Api-Key": "ops"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "warn"
    (storage,) = body["checks"]["storage:local:responseTime"]
    assert storage["status"] == "warn" and "not a folder" in storage["output"]
    assert client.get("/server/health").get_json() == {"status": "warn"}

    slow = make_app({"DB_HEALTHCHECK_THRESHOLD": "-1", "STORAGE_LOCAL_ROOT": str(tmp_path)},
                    plugins=[api_key_admin()])
    body = slow.test_client().get("/server/health", headers={"X-Api-Key": "ops"}).get_json()
    assert body["status"] == "warn"
    assert body["checks"]["sqlite:responseTime"][0]["status"] == "warn"


def test_health_is_503_with_details_when_the_database_is_down(make_app, tmp_path):
    import sqlalchemy as sa

    app = make_app({"STORAGE_LOCAL_ROOT": str(tmp_path)}, plugins=[api_key_admin()])
    cms = app.extensions["transom"]
    cms.engine.dispose()
    cms.engine = sa.create_engine("sqlite:////nonexistent-dir/x.db")
    client = app.test_client()
    resp = client.get("/server/health", headers={"X-Api-Key": "ops"})
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "error"
    (db,) = body["checks"]["sqlite:responseTime"]
    assert db["status"] == "error" and db["output"]
    # a static token cannot be checked without the database: the public answer, no raise
    resp = client.get("/server/health", headers={"Authorization": "Bearer whatever"})
    assert resp.status_code == 503 and resp.get_json() == {"status": "error"}


def test_health_never_fails_on_a_bad_token(client):
    for headers in ({"Authorization": "Bearer not-a-token"},
                    {"Authorization": "Basic xyz"}):
        resp = client.get("/server/health", headers=headers)
        assert resp.status_code == 200 and resp.get_json() == {"status": "ok"}
    assert client.get("/server/health?access_token=nope").get_json() == {"status": "ok"}


def test_storage_check_gives_way_to_a_plugin(make_app):
    calls: list[str] = []
    storage = plugin("ops_storage", register_health_checks=lambda cms: HealthCheck(
        "storage:local:responseTime", lambda: calls.append("plugin"), "objectstore",
        required=False, threshold_ms=750))
    app = make_app({"STORAGE_LOCAL_ROOT": "/nonexistent-root/uploads"},
                   plugins=[storage, api_key_admin()])
    body = app.test_client().get("/server/health", headers={"X-Api-Key": "ops"}).get_json()
    assert len(body["checks"]["storage:local:responseTime"]) == 1
    assert calls == ["plugin"] and body["status"] == "ok"


def test_local_folder_check(tmp_path):
    check_local_folder(tmp_path)
    missing = tmp_path / "a" / "b"
    check_local_folder(missing)  # can be created later: fine, and not created now
    assert not missing.exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(NotADirectoryError):
        check_local_folder(tmp_path / "f")
