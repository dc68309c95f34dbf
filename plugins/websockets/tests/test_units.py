"""In-process checks of what the live tests reach only indirectly: document compilation,
settings validation and the reply shapes."""

from __future__ import annotations

import pytest
from transom_websockets.graphql_ws import BadDocument, compile_subscription
from transom_websockets.protocol import SocketError, error, error_of, reply
from transom_websockets.settings import SocketSettings

from transom.api import ForbiddenError, StartupError

COLLECTIONS = {"articles": object()}


def test_compile_subscription_shapes_fields_and_aliases() -> None:
    plan = compile_subscription(
        "subscription { m: articles_mutated(event: update) { key event "
        "data { id t: title author { name } } } }", None, COLLECTIONS)
    assert plan["collection"] == "articles" and plan["event"] == "update"
    assert plan["fields"] == ["id", "title", "author.name"]
    assert plan["root"] == "m"


@pytest.mark.parametrize("document, message", [
    ("query { articles { id } }", "POST /graphql"),
    ("subscription { nope_mutated { key } }", "Cannot query field"),
    ("subscription { articles_mutated(event: upsert) { key } }", "event must be"),
    ("subscription { articles_mutated { data { ...F } } } fragment F on x { id }",
     "exactly one"),
    ("subscription { articles_mutated { data { title(x: 1) } } }", "arguments"),
    ("subscription { articles_mutated { other } }", "key, event and data"),
    ("subscription {", "Syntax Error"),
])
def test_compile_subscription_refuses_what_it_cannot_run(document: str, message: str) -> None:
    with pytest.raises(BadDocument, match=message):
        compile_subscription(document, None, COLLECTIONS)


def test_bad_auth_mode_stops_start_up() -> None:
    with pytest.raises(StartupError, match="WEBSOCKETS_REST_AUTH"):
        SocketSettings.from_config({"WEBSOCKETS_REST_AUTH": "sometimes"})


def test_error_shapes() -> None:
    assert reply("pong") == {"type": "pong"}
    assert error("items", "FORBIDDEN", "no", uid=3) == {
        "type": "items", "status": "error", "uid": 3,
        "error": {"code": "FORBIDDEN", "message": "no"}}
    assert error_of("items", ForbiddenError())["error"]["code"] == "FORBIDDEN"
    assert error_of("auth", SocketError("AUTH_FAILED", "x"))["error"] == {
        "code": "AUTH_FAILED", "message": "x"}
    assert error_of("x", RuntimeError("secret detail"))["error"]["message"] == \
        "An unexpected error occurred."
