"""``GET|POST /flows/trigger/:id``: webhook and manual triggers.

* webhook flows answer the method of their ``options.method`` (GET by default); with
  ``options.async`` the run starts in the background and the answer is 204, otherwise the
  answer is the flow's result (``options.return``: ``$last`` by default, ``$all``, or a path)
  as JSON, 204 when it is null, and the step's error envelope when the run ended rejected;
* manual flows (the Studio's button) take ``POST {collection, keys}`` from a signed-in user,
  for a collection listed in ``options.collections`` and items that user can read.

A flow that is missing, inactive or of another trigger is 403, as Directus answers.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request

from transom.api import (
    ForbiddenError,
    InvalidPayloadError,
    ItemsService,
    TransomError,
    current_cms,
    get_accountability,
    json_response,
    no_content,
    request_json,
)

from .state import get_state

bp = Blueprint("transom_flows", __name__)


def _trigger_data() -> dict[str, Any]:
    body = request_json(None) if request.method == "POST" else None
    headers = {k.lower(): v for k, v in request.headers.items()
               if k.lower() not in ("authorization", "cookie")}
    return {"path": request.path, "query": request.args.to_dict(), "body": body,
            "method": request.method, "headers": headers}


def _check_manual(cms: Any, flow: Any, data: dict[str, Any], acc: Any) -> None:
    if acc is None or acc.user is None:
        raise ForbiddenError()
    body = data.get("body")
    if not isinstance(body, dict):
        raise InvalidPayloadError('"collection" and "keys" are required')
    collection, keys = body.get("collection"), body.get("keys")
    if collection not in (flow.options.get("collections") or []):
        raise ForbiddenError()
    if not isinstance(keys, list) or not keys:
        raise InvalidPayloadError('"keys" must be a non-empty list')
    coll = cms.schema.get(collection)
    pk = coll.primary_key if coll is not None else None
    if pk is None:
        raise ForbiddenError()
    found = ItemsService(cms, collection, acc).read_many(keys, {"fields": [pk]})
    if len(found) != len(set(map(str, keys))):
        raise ForbiddenError()


@bp.route("/flows/trigger/<flow_id>", methods=["GET", "POST"])
def trigger(flow_id: str) -> Response:
    """Run a webhook or manual flow."""
    cms = current_cms()
    state = get_state(cms)
    flow = state.store.get(flow_id)
    if flow is None or flow.trigger not in ("webhook", "manual"):
        raise ForbiddenError()
    acc = get_accountability()
    data = _trigger_data()
    if flow.trigger == "webhook":
        if str(flow.options.get("method") or "GET").upper() != request.method:
            raise ForbiddenError()
    else:
        if request.method != "POST":
            raise ForbiddenError()
        _check_manual(cms, flow, data, acc)
    if flow.options.get("async"):
        state.run_in_background(flow, data, acc)
        return no_content()
    run = state.engine.run(flow, data, acc)
    if run.status == "reject":
        err = run.error
        raise err if isinstance(err, TransomError) else \
            InvalidPayloadError(f'Flow "{flow.name}" failed')
    result = run.result()
    if result is None:
        return no_content()
    return json_response(result)
