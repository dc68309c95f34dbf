"""marshmallow schemas of the Directus 11 wire contract: request bodies, query arguments and
envelopes. Core routes validate with them (through :mod:`transom.http.openapi`'s parser) and
``/server/specs/oas`` documents every route from them, so the document is the validation.

Bodies keep unknown keys (``INCLUDE``) where Directus lets them through to a service that
decides (user fields, settings); schemas only state what the route itself reads.
"""

from __future__ import annotations

from typing import Any

from marshmallow import EXCLUDE, INCLUDE, Schema, ValidationError, pre_load
from marshmallow import fields as ma
from marshmallow.validate import Length

REQUIRED = {"required": "is required"}


def _text(**kw: Any) -> ma.String:
    """A required non-empty string, with Joi's wording (Directus validates with Joi)."""
    return ma.String(required=True, validate=Length(min=1, error="is required"),
                     error_messages={**REQUIRED, "invalid": "must be a string",
                                     "null": "must be a string"}, **kw)


# -- envelopes ---------------------------------------------------------------------------------
class ErrorExtensions(Schema):
    code = ma.String(required=True)


class ErrorItem(Schema):
    message = ma.String(required=True)
    extensions = ma.Nested(ErrorExtensions)


class ErrorEnvelope(Schema):
    """Directus's error envelope, for every non-2xx answer."""

    errors = ma.List(ma.Nested(ErrorItem), required=True)


class DataEnvelope(Schema):
    """Directus's success envelope: ``{data, meta?}``."""

    data = ma.Raw()
    meta = ma.Dict()


# -- query arguments ---------------------------------------------------------------------------
class QuerySchema(Schema):
    """Directus's global query parameters (``/items/*`` and every system collection).

    Documentation only on the read path: those routes keep :func:`transom.query.parse_query`
    (see docs/architecture.md, "Libraries at the edges")."""

    class Meta:
        unknown = EXCLUDE

    fields = ma.String(metadata={"description": "Fields to return (CSV, dot paths)."})
    filter = ma.String(metadata={"description": "Filter object (JSON or brackets)."})
    search = ma.String(metadata={"description": "Search text fields."})
    sort = ma.String(metadata={"description": "Sort keys (CSV), '-' for descending."})
    limit = ma.Integer(metadata={"description": "Maximum number of items (-1: all)."})
    offset = ma.Integer(metadata={"description": "Items to skip."})
    page = ma.Integer(metadata={"description": "Page number (1-based)."})
    meta = ma.String(metadata={"description": "total_count, filter_count or *."})
    deep = ma.String(metadata={"description": "Nested queries per relation (JSON)."})
    alias = ma.String(metadata={"description": "Aliases of fields (JSON)."})
    aggregate = ma.String(metadata={"description": "Aggregate functions (JSON)."})
    groupBy = ma.String(metadata={"description": "Group by fields (CSV)."})
    export = ma.String(metadata={"description": "json, csv, xml or yaml download."})
    version = ma.String(metadata={"description": "Content version key."})
    backlink = ma.Boolean(metadata={"description": "Include backlinks in '*.*'."})


def _length(value: int) -> None:
    if value > 500:
        raise ValidationError("can't be more than 500 characters")
    if value < 1:
        raise ValidationError("must be at least 1")


class RandomStringQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    length = ma.Integer(load_default=32, validate=_length,
                        error_messages={"invalid": "must be a number"},
                        metadata={"description": "Length of the string (1-500)."})

    @pre_load
    def _blank_is_default(self, data: Any, **_kw: Any) -> Any:
        if data.get("length") in ("", None):
            return {k: v for k, v in data.items() if k != "length"}
        return data


class ExplainQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    user = ma.String(metadata={"description": "Explain this user's permissions."})
    role = ma.String(metadata={"description": "Explain this role's permissions."})
    key = ma.String(metadata={"description": "Also tell whether this item is reachable."})


# -- bodies ------------------------------------------------------------------------------------
class HashGenerateBody(Schema):
    class Meta:
        unknown = INCLUDE

    string = _text(metadata={"description": "The string to hash."})


class HashVerifyBody(Schema):
    class Meta:
        unknown = INCLUDE

    string = _text()
    hash = _text()


class ObjectBody(Schema):
    """Any JSON object (the fields are the service's business)."""

    class Meta:
        unknown = INCLUDE


class UserBody(Schema):
    """A ``directus_users`` item (create or update); other fields of the collection pass."""

    class Meta:
        unknown = INCLUDE

    email = ma.String(allow_none=True, metadata={"format": "email"})
    password = ma.String(allow_none=True, metadata={"format": "password"})
    first_name = ma.String(allow_none=True)
    last_name = ma.String(allow_none=True)
    role = ma.String(allow_none=True, metadata={"format": "uuid"})
    status = ma.String(metadata={"description": "active, invited, draft, suspended..."})
    language = ma.String(allow_none=True)
    token = ma.String(allow_none=True)
    provider = ma.String()
    external_identifier = ma.String(allow_none=True)
    tfa_secret = ma.String(allow_none=True)


class RoleBody(Schema):
    class Meta:
        unknown = INCLUDE

    name = ma.String()
    icon = ma.String()
    description = ma.String(allow_none=True)
    parent = ma.String(allow_none=True)


class PolicyBody(Schema):
    class Meta:
        unknown = INCLUDE

    name = ma.String()
    icon = ma.String()
    description = ma.String(allow_none=True)
    ip_access = ma.Raw(allow_none=True)
    enforce_tfa = ma.Boolean()
    admin_access = ma.Boolean()
    app_access = ma.Boolean()


class PermissionBody(Schema):
    class Meta:
        unknown = INCLUDE

    policy = ma.String()
    collection = ma.String()
    action = ma.String(metadata={"description": "create, read, update, delete, share"})
    permissions = ma.Raw(allow_none=True)
    validation = ma.Raw(allow_none=True)
    presets = ma.Raw(allow_none=True)
    fields = ma.Raw(allow_none=True)


class AccessBody(Schema):
    class Meta:
        unknown = INCLUDE

    role = ma.String(allow_none=True)
    user = ma.String(allow_none=True)
    policy = ma.String()
    sort = ma.Integer(allow_none=True)


class BatchUpdateBody(Schema):
    """``PATCH /<collection>``: ``{keys, data}`` or ``{query, data}`` (or an array of items)."""

    class Meta:
        unknown = INCLUDE

    keys = ma.List(ma.Raw())
    query = ma.Dict()
    data = ma.Dict()


class BatchDeleteBody(Schema):
    """``DELETE /<collection>``: ``{keys}`` or ``{query}`` (or an array of keys)."""

    class Meta:
        unknown = INCLUDE

    keys = ma.List(ma.Raw())
    query = ma.Dict()


class SearchBody(Schema):
    """``SEARCH /<collection>``: the query in the body, and optional keys."""

    class Meta:
        unknown = INCLUDE

    query = ma.Dict()
    keys = ma.List(ma.Raw())


# -- auth (routes of the auth plugin; the contract is Directus's) --------------------------------
MODE = {"description": "json (default), cookie or session", "enum": ["json", "cookie",
                                                                     "session"]}


class LoginBody(Schema):
    class Meta:
        unknown = INCLUDE

    email = ma.String(required=True, metadata={"format": "email"})
    password = ma.String(required=True, metadata={"format": "password"})
    mode = ma.String(metadata=MODE)
    otp = ma.String(metadata={"description": "One-time password when 2FA is enabled."})


class RefreshBody(Schema):
    class Meta:
        unknown = INCLUDE

    refresh_token = ma.String(metadata={"description": "Else the refresh cookie."})
    mode = ma.String(metadata=MODE)


class PasswordRequestBody(Schema):
    class Meta:
        unknown = INCLUDE

    email = ma.String(required=True, metadata={"format": "email"})
    reset_url = ma.String(metadata={"description": "Must be allow-listed."})


class PasswordResetBody(Schema):
    class Meta:
        unknown = INCLUDE

    token = ma.String(required=True)
    password = ma.String(required=True, metadata={"format": "password"})


class GraphQLBody(Schema):
    class Meta:
        unknown = INCLUDE

    query = ma.String(required=True)
    variables = ma.Dict(allow_none=True)
    operationName = ma.String(allow_none=True)


class GraphQLQuery(Schema):
    class Meta:
        unknown = EXCLUDE

    query = ma.String()
    variables = ma.String(metadata={"description": "JSON object"})
    operationName = ma.String()


#: bodies of the system collection routes, by route (POST and PATCH /<route>/<key>)
SYSTEM_BODIES: dict[str, type[Schema]] = {
    "users": UserBody,
    "roles": RoleBody,
    "policies": PolicyBody,
    "permissions": PermissionBody,
    "access": AccessBody,
}
