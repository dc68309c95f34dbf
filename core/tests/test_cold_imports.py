"""A default deployment (SQLite, no SSO provider, local storage) must not import the heavy
SDKs of plugins it does not use: pysaml2 alone costs ~2.6 s of cold start (it builds its
XML schema validators at import), boto3, authlib and ldap3 ~0.3 s each. Checked in a fresh
interpreter, since this test process has long imported them all. The same holds for graphene
(~0.11 s, until the first GraphQL request) and SQLAlchemy's PostgreSQL dialect (~0.06 s,
only on PostgreSQL), and for what only a feature that is off by default needs: graphql-core
(WebSocket subscriptions, ~0.08 s), flask-sock and its WebSocket stack (~0.03 s),
prometheus-client (``METRICS_ENABLED``, ~0.03 s), urllib3 (a flow's request operation,
~0.03 s)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: SDKs only a configured provider or storage location may pull in
HEAVY = ("saml2", "boto3", "botocore", "authlib", "ldap3")
#: imported on first use only: the first GraphQL request, a PostgreSQL database
LAZY = ("graphene", "sqlalchemy.dialects.postgresql", "graphql", "flask_sock",
        "simple_websocket", "wsproto", "prometheus_client", "urllib3")
#: the plugins that own them: they must be loaded (entry points) for the check to mean much
OWNERS = ("transom_auth_saml", "transom_storage_s3", "transom_auth_oidc", "transom_auth_ldap",
          "transom_graphql", "transom_websockets", "transom_metrics", "transom_flows")

PROBE = """
import json, sys
from transom.app import create_app
app = create_app({"DB_URL": sys.argv[1], "SECRET": "cold-imports-test-secret-0123456789"})
names = sys.argv[2:]
if names[0] == "--open-storages":
    from transom.api import storages
    names = names[1:]
    storages(app.extensions["transom"]).get("s3")
if names[0] == "--graphql":
    names = names[1:]
    resp = app.test_client().post("/graphql/system", json={"query": "{ __typename }"})
    assert resp.status_code == 200 and resp.get_json() == {"data": {"__typename": "Query"}}, \
        resp.get_data(as_text=True)
print(json.dumps({"loaded": sorted(m for m in names if m in sys.modules),
                  "routes": len(list(app.url_map.iter_rules()))}))
"""


def _probe(tmp_path: Path, extra_env: dict[str, str] | None = None,
           flags: tuple[str, ...] = ()) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **(extra_env or {})}
    out = subprocess.run(
        [sys.executable, "-c", PROBE, f"sqlite:///{tmp_path / 'cold.db'}", *flags, *HEAVY, *LAZY,
         *OWNERS],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_default_app_does_not_import_provider_sdks(tmp_path: Path) -> None:
    found = _probe(tmp_path)
    loaded = set(found["loaded"])
    assert set(OWNERS) <= loaded, f"plugins not loaded by entry points: {set(OWNERS) - loaded}"
    assert not loaded & set(HEAVY), f"imported without a configured provider: {loaded & set(HEAVY)}"
    assert not loaded & set(LAZY), f"imported before first use: {loaded & set(LAZY)}"
    assert found["routes"] > 0


def test_a_configured_s3_location_imports_boto3(tmp_path: Path) -> None:
    """The other side: the lazy import really happens once a location uses the driver."""
    found = _probe(tmp_path, {
        "STORAGE_LOCATIONS": "local,s3", "STORAGE_LOCAL_DRIVER": "local",
        "STORAGE_LOCAL_ROOT": str(tmp_path / "uploads"),
        "STORAGE_S3_DRIVER": "s3", "STORAGE_S3_BUCKET": "b", "STORAGE_S3_KEY": "k",
        "STORAGE_S3_SECRET": "s", "STORAGE_S3_REGION": "us-east-1",
        "STORAGE_S3_ENDPOINT": "http://127.0.0.1:9"}, ("--open-storages",))
    assert {"boto3", "botocore"} <= set(found["loaded"]), found


def test_the_first_graphql_request_imports_graphene(tmp_path: Path) -> None:
    """The other side: the first GraphQL request brings graphene in and is answered."""
    found = _probe(tmp_path, flags=("--graphql",))
    assert "graphene" in found["loaded"], found
    assert "sqlalchemy.dialects.postgresql" not in found["loaded"], found


def test_enabled_websockets_and_metrics_import_their_libraries(tmp_path: Path) -> None:
    """The other side: turned on, the sockets and ``/metrics`` have what they need."""
    found = _probe(tmp_path, {"WEBSOCKETS_ENABLED": "true", "METRICS_ENABLED": "true"})
    assert {"flask_sock", "simple_websocket", "prometheus_client"} <= set(found["loaded"]), \
        found


def test_url_building_compiles_rule_builders_on_first_use() -> None:
    """Rules are registered without their ``url_for`` builders (``transom.lazy_rules``);
    the first build compiles them, later ones reuse them, and matching never needs them."""
    from flask import Flask, url_for

    from transom.app import TransomFlask

    app = TransomFlask("lazy-rules")
    app.add_url_rule("/items/<collection>/<int:pk>", "item", lambda collection, pk: "")
    app.add_url_rule("/plain", "plain", lambda: "")
    assert issubclass(TransomFlask, Flask)
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "item")
    first = rule._build_unknown  # what url_for uses (it appends unknown arguments)
    with app.test_request_context("/plain"):
        assert url_for("item", collection="a b", pk=7) == "/items/a%20b/7"
        assert url_for("item", collection="x", pk=1, q="1") == "/items/x/1?q=1"
        assert rule._build_unknown is not first  # compiled now, and kept
        assert url_for("item", collection="y", pk=2) == "/items/y/2"
        assert url_for("plain", _external=True) == "http://localhost/plain"
    adapter = app.url_map.bind("localhost")
    assert adapter.match("/items/a/3") == ("item", {"collection": "a", "pk": 3})
