"""Directus's non-collection roots of ``/graphql/system``: schema reads by name, server
information and the ``utils_*`` mutations.

Each resolver calls the service the REST route calls (``CollectionsService``,
``FieldsService``, ``RelationsService``, ``ItemsService`` on ``directus_settings``, the
argon2 helpers), as the caller, so permissions and errors are the same as over REST.
``meta`` and ``schema`` of collections, fields and relations are ``JSON`` here (Directus
spells their sub-fields out; a client selecting the whole object gets the same data).

The ``auth_*`` mutations are served by the REST routes of whichever plugin owns
``/auth/*`` (``transom-auth-jwt`` by default): GraphQL must not import another plugin, and
login, refresh rotation, rate limits, stalls and hooks must behave exactly as over REST, so
each mutation dispatches one internal request (same client address, user agent and cookies,
in an application context of its own) and answers its ``data``; a refused one answers the
route's error. Cookies the route sets (``mode: cookie|session``) are copied onto the GraphQL
response by ``routes.py`` (:data:`SET_COOKIE_KEY`).

``server_health`` answers ``/server/health``'s document the same way (a GET with the
caller's token, so admins get the checks). ``update_users_me`` updates the caller with
``UsersService`` (the service of ``PATCH /users/me``: email format, password policy, hooks)
and reads the user back with the selection, typed as the generated ``directus_users``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from flask import Response, current_app, request
from flask.testing import EnvironBuilder  # builds a WSGI environ (no test client)
from graphql import (
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLID,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLResolveInfo,
    GraphQLString,
)

from transom.api import (
    CollectionsService,
    FieldsService,
    ForbiddenError,
    InvalidCredentialsError,
    InvalidPayloadError,
    ItemsService,
    RelationsService,
    TransomError,
    UsersService,
    __version__,
    hash_password,
    limit_settings,
    verify_password,
)

from .resolvers import read_back_one
from .scalars import GraphQLBigInt, GraphQLJSON

#: ``request.environ`` key of the cookies internal auth requests set (see routes.py)
SET_COOKIE_KEY = "transom_graphql.set_cookie"
#: request headers an internal auth request carries over from the GraphQL request
_FORWARDED = ("User-Agent", "X-Forwarded-For", "X-Real-IP", "Origin", "Cookie",
              "Accept-Language")

#: nanoid's URL-safe alphabet, as Directus's random strings use
RANDOM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
RANDOM_MAX = 500
#: the Directus release whose API Transom speaks (as ``/server/info``)
DIRECTUS_VERSION = "11.17.4"
PROJECT_FIELDS = ("project_name", "project_descriptor", "project_logo", "project_color",
                  "default_language", "public_foreground", "public_background",
                  "public_favicon", "public_note", "custom_css", "public_registration",
                  "public_registration_verify_email")
_BOOLEAN_PROJECT = {"public_registration", "public_registration_verify_email"}

_S = GraphQLString
_NN_S = GraphQLNonNull(GraphQLString)
_NN_ID = GraphQLNonNull(GraphQLID)

COLLECTION = GraphQLObjectType("directus_collections", {
    "collection": GraphQLField(_S), "meta": GraphQLField(GraphQLJSON),
    "schema": GraphQLField(GraphQLJSON)})
FIELD = GraphQLObjectType("directus_fields", {
    "collection": GraphQLField(_S), "field": GraphQLField(_S), "type": GraphQLField(_S),
    "meta": GraphQLField(GraphQLJSON), "schema": GraphQLField(GraphQLJSON)})
RELATION = GraphQLObjectType("directus_relations", {
    "collection": GraphQLField(_S), "field": GraphQLField(_S),
    "related_collection": GraphQLField(_S), "meta": GraphQLField(GraphQLJSON),
    "schema": GraphQLField(GraphQLJSON)})
PROJECT = GraphQLObjectType("server_info_project", {
    name: GraphQLField(GraphQLBoolean if name in _BOOLEAN_PROJECT else _S)
    for name in PROJECT_FIELDS})
QUERY_LIMIT = GraphQLObjectType("server_info_query_limit", {
    "default": GraphQLField(GraphQLInt), "max": GraphQLField(GraphQLInt)})
SERVER_INFO = GraphQLObjectType("server_info", {
    "project": GraphQLField(PROJECT), "setupCompleted": GraphQLField(GraphQLBoolean),
    "queryLimit": GraphQLField(QUERY_LIMIT), "version": GraphQLField(_S),
    "transom_version": GraphQLField(_S)})


AUTH_MODE = GraphQLEnumType("auth_mode", {"json": "json", "cookie": "cookie",
                                         "session": "session"})
AUTH_TOKENS = GraphQLObjectType("auth_tokens", {
    "access_token": GraphQLField(_S), "expires": GraphQLField(GraphQLBigInt),
    "refresh_token": GraphQLField(_S)})


SDL_SCOPE = GraphQLEnumType("graphql_sdl_scope", {"items": "items", "system": "system"})
TFA_SECRET = GraphQLObjectType("users_me_tfa_generate_data", {
    "secret": GraphQLField(_S), "otpauth_url": GraphQLField(_S)})
POLICY_GLOBALS = GraphQLObjectType("policies_me_globals", {
    name: GraphQLField(GraphQLBoolean) for name in ("app_access", "admin_access",
                                                   "enforce_tfa")})


class RelayedError(TransomError):
    """The error an internal request answered, with its status, code and extensions."""

    def __init__(self, status: int, error: dict[str, Any]) -> None:
        ext = dict(error.get("extensions") or {})
        self.code = str(ext.pop("code", "INTERNAL_SERVER_ERROR"))
        self.status = status
        super().__init__(str(error.get("message") or ""), **ext)


def _internal(path: str, body: dict[str, Any] | None, forward_auth: bool = False, *,
              query: dict[str, str] | None = None, text: bool = False) -> tuple[int, Any]:
    """One request to ``path`` of this app as the current client: (status, JSON body, or
    the body as text with ``text``). A GET without ``body``, else a POST of it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    names = (*_FORWARDED, "Authorization") if forward_auth else _FORWARDED
    headers = {k: request.headers[k] for k in names if k in request.headers}
    headers["Accept"] = "application/json"  # routes made for browsers answer JSON too
    environ = EnvironBuilder(app, path=path, method="GET" if body is None else "POST",
                             json=body, headers=headers, query_string=query,
                             base_url=request.host_url,
                             environ_base={"REMOTE_ADDR": request.remote_addr or ""}
                             ).get_environ()
    with app.app_context():  # its own ``g``: the GraphQL request's stays as it is
        answer = Response.from_app(app.wsgi_app, environ)
    cookies = answer.headers.getlist("Set-Cookie")
    if cookies:
        request.environ.setdefault(SET_COOKIE_KEY, []).extend(cookies)
    raw = answer.get_data()
    if text and answer.status_code < 400:
        return answer.status_code, raw.decode("utf-8")
    return answer.status_code, json.loads(raw) if raw.strip() else None


def relay(path: str, body: dict[str, Any] | None, forward_auth: bool = False, *,
          query: dict[str, str] | None = None, answer: str = "data") -> Any:
    """POST ``body`` (GET without one) to ``path`` as the current client (with its
    ``Authorization`` when ``forward_auth``); the route's error, or its answer: the
    envelope's ``data`` (``answer="data"``), the whole JSON document (``"document"``) or
    the body as text (``"text"``)."""
    status, payload = _internal(path, body, forward_auth, query=query,
                                text=answer == "text")
    if status >= 400:
        errors = (payload or {}).get("errors") or [{"message": "Request failed"}]
        raise RelayedError(status, errors[0])
    if answer != "data":
        return payload
    return payload.get("data") if isinstance(payload, dict) else None


def _login(_root: Any, _info: GraphQLResolveInfo, email: str, password: str,
           mode: str | None = None, otp: str | None = None) -> Any:
    body: dict[str, Any] = {"email": email, "password": password, "mode": mode or "json"}
    if otp is not None:
        body["otp"] = otp
    return relay("/auth/login", body)


def _refresh(_root: Any, _info: GraphQLResolveInfo, refresh_token: str | None = None,
             mode: str | None = None) -> Any:
    body: dict[str, Any] = {"mode": mode or "json"}
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    return relay("/auth/refresh", body)


def _logout(_root: Any, _info: GraphQLResolveInfo, refresh_token: str | None = None,
            mode: str | None = None) -> bool:
    body: dict[str, Any] = {"mode": mode or "json"}
    if refresh_token is not None:
        body["refresh_token"] = refresh_token
    relay("/auth/logout", body)
    return True


def _acknowledged(path: str, forward_auth: bool = False) -> Callable[..., bool]:
    """A mutation answering ``true`` once the POST of its given arguments to ``path``
    succeeded (the route's error otherwise)."""
    def resolve(_root: Any, _info: GraphQLResolveInfo, **args: Any) -> bool:
        relay(path, {k: v for k, v in args.items() if v is not None}, forward_auth)
        return True
    return resolve


def _tfa_generate(_root: Any, _info: GraphQLResolveInfo, password: str | None = None) -> Any:
    body = {} if password is None else {"password": password}
    return relay("/users/me/tfa/generate", body, forward_auth=True)


def _register_verify(_root: Any, _info: GraphQLResolveInfo, token: str) -> bool:
    relay("/users/register/verify-email", None, query={"token": token})
    return True


def _utils_sort(_root: Any, _info: GraphQLResolveInfo, collection: str, item: Any,
                to: Any) -> bool:
    relay(f"/utils/sort/{quote(collection, safe='')}", {"item": item, "to": to},
          forward_auth=True)
    return True


def _utils_revert(_root: Any, _info: GraphQLResolveInfo, revision: Any) -> bool:
    relay(f"/utils/revert/{quote(str(revision), safe='')}", {}, forward_auth=True)
    return True


def onboarding_mutations() -> dict[str, GraphQLField]:
    """Directus's ``users_invite*``, ``users_register*``, ``utils_sort`` and
    ``utils_revert``, each one internal request to its REST route as the caller."""
    return {
        "users_invite": GraphQLField(GraphQLBoolean, args=_args(
            email=_NN_S, role=_NN_S, invite_url=_S),
            resolve=_acknowledged("/users/invite", forward_auth=True)),
        "users_invite_accept": GraphQLField(GraphQLBoolean, args=_args(
            token=_NN_S, password=_NN_S), resolve=_acknowledged("/users/invite/accept")),
        "users_register": GraphQLField(GraphQLBoolean, args=_args(
            email=_NN_S, password=_NN_S, verification_url=_S, first_name=_S, last_name=_S),
            resolve=_acknowledged("/users/register")),
        "users_register_verify": GraphQLField(GraphQLBoolean, args=_args(token=_NN_S),
                                              resolve=_register_verify),
        "utils_sort": GraphQLField(GraphQLBoolean, args=_args(
            collection=_NN_S, item=_NN_ID, to=_NN_ID), resolve=_utils_sort),
        "utils_revert": GraphQLField(GraphQLBoolean, args=_args(revision=_NN_ID),
                                     resolve=_utils_revert),
    }


def tfa_mutations() -> dict[str, GraphQLField]:
    """Directus's ``users_me_tfa_*``, served by the ``/users/me/tfa/*`` routes (of
    ``transom-auth-jwt``) as the caller, like ``auth_*``: the password check, the OTP check
    and the secret's storage are the REST ones. ``password`` may be left out where the
    route allows it (an SSO user)."""
    return {
        "users_me_tfa_generate": GraphQLField(TFA_SECRET, args=_args(password=_S),
                                              resolve=_tfa_generate),
        "users_me_tfa_enable": GraphQLField(GraphQLBoolean, args=_args(
            otp=_NN_S, secret=_NN_S),
            resolve=_acknowledged("/users/me/tfa/enable", forward_auth=True)),
        "users_me_tfa_disable": GraphQLField(GraphQLBoolean, args=_args(otp=_NN_S),
            resolve=_acknowledged("/users/me/tfa/disable", forward_auth=True)),
    }


def _args(**kinds: Any) -> dict[str, GraphQLArgument]:
    return {k: GraphQLArgument(v) for k, v in kinds.items()}


def auth_mutations() -> dict[str, GraphQLField]:
    """Directus's ``auth_*`` mutations (served by the ``/auth/*`` routes, see above)."""
    return {
        "auth_login": GraphQLField(AUTH_TOKENS, args=_args(
            email=_NN_S, password=_NN_S, mode=AUTH_MODE, otp=_S), resolve=_login),
        "auth_refresh": GraphQLField(AUTH_TOKENS, args=_args(
            refresh_token=_S, mode=AUTH_MODE), resolve=_refresh),
        "auth_logout": GraphQLField(GraphQLBoolean, args=_args(
            refresh_token=_S, mode=AUTH_MODE), resolve=_logout),
        "auth_password_request": GraphQLField(GraphQLBoolean, args=_args(
            email=_NN_S, reset_url=_S), resolve=_acknowledged("/auth/password/request")),
        "auth_password_reset": GraphQLField(GraphQLBoolean, args=_args(
            token=_NN_S, password=_NN_S), resolve=_acknowledged("/auth/password/reset")),
    }


def _ctx(info: GraphQLResolveInfo) -> Any:
    return info.context


def _collections_by_name(_root: Any, info: GraphQLResolveInfo, name: str) -> Any:
    c = _ctx(info)
    return CollectionsService(c.cms, c.accountability).read_one(name)


def _fields_in_collection(_root: Any, info: GraphQLResolveInfo, collection: str) -> Any:
    c = _ctx(info)
    return FieldsService(c.cms, c.accountability).read_all(collection)


def _fields_by_name(_root: Any, info: GraphQLResolveInfo, collection: str, field: str) -> Any:
    c = _ctx(info)
    return FieldsService(c.cms, c.accountability).read_one(collection, field)


def _relations_in_collection(_root: Any, info: GraphQLResolveInfo, collection: str) -> Any:
    c = _ctx(info)
    return RelationsService(c.cms, c.accountability).read_all(collection)


def _relations_by_name(_root: Any, info: GraphQLResolveInfo, collection: str,
                       field: str) -> Any:
    c = _ctx(info)
    return RelationsService(c.cms, c.accountability).read_one(collection, field)


def project_info(cms: Any) -> dict[str, Any]:
    """The public ``project`` of ``/server/info``, read from ``directus_settings``."""
    project: dict[str, Any] = dict.fromkeys(PROJECT_FIELDS)
    project["project_name"] = cms.config.get("PROJECT_NAME", "Transom")
    for name in _BOOLEAN_PROJECT:
        project[name] = False
    settings = cms.schema.get("directus_settings")
    if settings is None:
        return project
    wanted = [f for f in PROJECT_FIELDS if f in settings.fields]
    row = ItemsService(cms, "directus_settings", None).read_singleton({"fields": wanted})
    for key in wanted:
        if row.get(key) is not None:
            project[key] = bool(row[key]) if key in _BOOLEAN_PROJECT else row[key]
    return project


def _server_info(_root: Any, info: GraphQLResolveInfo) -> Any:
    c = _ctx(info)
    data: dict[str, Any] = {"project": project_info(c.cms), "setupCompleted": True}
    if c.accountability.user is not None or c.accountability.admin:
        default, most = limit_settings(c.cms.config)
        data.update(queryLimit={"default": default, "max": max(most, -1)},
                    version=DIRECTUS_VERSION, transom_version=__version__)
    return data


def _server_health(_root: Any, _info: GraphQLResolveInfo) -> Any:
    """``/server/health``'s document (details for admins), whatever its status."""
    return _internal("/server/health", None, forward_auth=True)[1]


def _random_string(_root: Any, _info: GraphQLResolveInfo, length: int | None = None) -> str:
    n = 32 if length is None else length
    if not 1 <= n <= RANDOM_MAX:
        raise InvalidPayloadError(f'"length" must be between 1 and {RANDOM_MAX}')
    return "".join(secrets.choice(RANDOM_ALPHABET) for _ in range(n))


def _hash_generate(_root: Any, info: GraphQLResolveInfo, string: str) -> str:
    if not string:
        raise InvalidPayloadError('"string" is not allowed to be empty')
    return hash_password(string, _ctx(info).cms.config)


def _hash_verify(_root: Any, _info: GraphQLResolveInfo, string: str, hash: str) -> bool:
    if not string:
        raise InvalidPayloadError('"string" is not allowed to be empty')
    return bool(verify_password(hash, string))


def _policies_me_globals(_root: Any, info: GraphQLResolveInfo) -> Any:
    """``GET /policies/me/globals``: the caller's global flags (the public's too)."""
    acc = _ctx(info).accountability
    return {"app_access": acc.app, "admin_access": acc.admin, "enforce_tfa": acc.enforce_tfa}


def _specs_oas(_root: Any, _info: GraphQLResolveInfo) -> Any:
    """``GET /server/specs/oas``: the caller's OpenAPI document."""
    return relay("/server/specs/oas", None, forward_auth=True, answer="document")


def _specs_graphql(_root: Any, _info: GraphQLResolveInfo, scope: str | None = None) -> Any:
    """``GET /server/specs/graphql/<scope>``: the caller's SDL."""
    return relay(f"/server/specs/graphql/{scope or 'items'}", None, forward_auth=True,
                 answer="text")


def _permissions_me(_root: Any, info: GraphQLResolveInfo) -> Any:
    """``GET /permissions/me``: per collection and action, what the caller may do."""
    c = _ctx(info)
    return c.cms.access.permissions(c.accountability).summary(c.cms.schema)


def _admin_only(resolve: Callable[..., Any]) -> Callable[..., Any]:
    """Schema reads by name need a signed-in caller, as ``/collections`` does."""
    def guarded(root: Any, info: GraphQLResolveInfo, **args: Any) -> Any:
        if _ctx(info).accountability.user is None and not _ctx(info).accountability.admin:
            raise ForbiddenError()
        return resolve(root, info, **args)
    return guarded


def _named(kind: GraphQLObjectType, resolve: Callable[..., Any], **args: Any) -> GraphQLField:
    return GraphQLField(kind, args={k: GraphQLArgument(v) for k, v in args.items()},
                        resolve=_admin_only(resolve))


def query_fields() -> dict[str, GraphQLField]:
    """The system ``Query`` roots added next to the generated collection roots."""
    many_fields = GraphQLNonNull(GraphQLList(GraphQLNonNull(FIELD)))
    many_relations = GraphQLNonNull(GraphQLList(GraphQLNonNull(RELATION)))
    return {
        "server_info": GraphQLField(GraphQLNonNull(SERVER_INFO), resolve=_server_info),
        "server_health": GraphQLField(GraphQLJSON, resolve=_server_health),
        "policies_me_globals": GraphQLField(GraphQLNonNull(POLICY_GLOBALS),
                                            resolve=_policies_me_globals),
        "permissions_me": GraphQLField(GraphQLJSON, resolve=_permissions_me),
        "server_specs_oas": GraphQLField(GraphQLJSON, resolve=_specs_oas),
        "server_specs_graphql": GraphQLField(_S, args=_args(scope=SDL_SCOPE),
                                             resolve=_specs_graphql),
        "collections_by_name": _named(COLLECTION, _collections_by_name, name=_NN_S),
        "fields_in_collection": _named(many_fields, _fields_in_collection,
                                       collection=_NN_S),
        "fields_by_name": _named(FIELD, _fields_by_name, collection=_NN_S, field=_NN_S),
        "relations_in_collection": _named(many_relations, _relations_in_collection,
                                          collection=_NN_S),
        "relations_by_name": _named(RELATION, _relations_by_name, collection=_NN_S,
                                    field=_NN_S),
    }


def _update_users_me(_root: Any, info: GraphQLResolveInfo, data: Any) -> Any:
    """``PATCH /users/me``: the same service and checks, then the user read back."""
    c = _ctx(info)
    user = c.accountability.user
    if user is None:
        raise InvalidCredentialsError()
    svc = UsersService(c.cms, c.accountability)
    svc.update_one(user, dict(data))
    return read_back_one(svc, user, info)


def users_me_mutation(builder: Any) -> dict[str, GraphQLField]:
    """``update_users_me(data: update_directus_users_input!)``, when the schema has the
    user type and the caller may update some field of a user."""
    if builder is None or "directus_users" not in builder.types:
        return {}
    update = builder.input_type("directus_users", "update")
    if update is None:
        return {}
    return {"update_users_me": GraphQLField(
        builder.object_type("directus_users"),
        args={"data": GraphQLArgument(GraphQLNonNull(update))}, resolve=_update_users_me)}


def mutation_fields(builder: Any = None) -> dict[str, GraphQLField]:
    """The system ``Mutation`` roots: ``auth_*``, ``update_users_me`` (needs the schema
    ``builder`` for the user types) and Directus's ``/utils`` helpers."""
    return {
        **users_me_mutation(builder),
        **auth_mutations(),
        **tfa_mutations(),
        **onboarding_mutations(),
        "utils_random_string": GraphQLField(_S, args={"length": GraphQLArgument(GraphQLInt)},
                                            resolve=_random_string),
        "utils_hash_generate": GraphQLField(_S, args={"string": GraphQLArgument(_NN_S)},
                                            resolve=_hash_generate),
        "utils_hash_verify": GraphQLField(GraphQLBoolean, args={
            "string": GraphQLArgument(_NN_S), "hash": GraphQLArgument(_NN_S)},
            resolve=_hash_verify),
    }
