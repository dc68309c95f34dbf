"""Typed errors with Directus 11's codes and statuses.

Services raise these; the HTTP layer renders every one of them as Directus's envelope
``{"errors": [{"message", "extensions": {"code", ...}}]}``. The error handler is the only place
where a status code is decided, so nothing below the interface layer knows about HTTP.
"""

from __future__ import annotations

from typing import Any


class StartupError(RuntimeError):
    """A configuration or plugin problem found while building the app; says what to fix."""


class TransomError(Exception):
    """Base of every error that reaches a client. ``code`` and ``status`` follow Directus."""

    code = "INTERNAL_SERVER_ERROR"
    status = 500
    default_message = "An unexpected error occurred."

    def __init__(self, message: str | None = None, **extensions: Any) -> None:
        self.message = message or self.default_message
        self.extensions = {k: v for k, v in extensions.items()}
        super().__init__(self.message)

    def to_dict(self) -> dict[str, Any]:
        """One entry of the ``errors`` array."""
        return {"message": self.message, "extensions": {**self.extensions, "code": self.code}}


class _ReasonError(TransomError):
    """Errors whose message is ``"<prefix> {reason}."`` with the reason in extensions."""

    prefix = ""

    def __init__(self, reason: str | None = None, **extensions: Any) -> None:
        if reason is None:
            super().__init__(None, **extensions)
            return
        reason = reason.rstrip(".")
        super().__init__(f"{self.prefix} {reason}.", reason=reason, **extensions)


class ForbiddenError(TransomError):
    code = "FORBIDDEN"
    status = 403
    default_message = "You don't have permission to access this."

    def __init__(self, reason: str | None = None, **extensions: Any) -> None:
        if reason is None:
            super().__init__(None, **extensions)
        else:
            super().__init__(reason, reason=reason, **extensions)

    @classmethod
    def collection(cls, collection: str) -> ForbiddenError:
        """The answer for a missing or forbidden collection (never reveals which)."""
        return cls(
            f'You don\'t have permission to access collection "{collection}" '
            "or it does not exist. Queried in root."
        )

    @classmethod
    def field(cls, field: str, collection: str, path: str = "root") -> ForbiddenError:
        """The answer for a missing or forbidden field, anywhere in a query."""
        where = "root" if path in ("", "root") else f'"{path}"'
        return cls(
            f'You don\'t have permission to access field "{field}" in collection '
            f'"{collection}" or it does not exist. Queried in {where}.'
        )

    @classmethod
    def action(cls, action: str, collection: str) -> ForbiddenError:
        return cls(
            f'You don\'t have permission to perform "{action}" for collection '
            f'"{collection}" or it does not exist.'
        )


class InvalidQueryError(_ReasonError):
    code = "INVALID_QUERY"
    status = 400
    prefix = "Invalid query."
    default_message = "Invalid query."


class InvalidPayloadError(_ReasonError):
    code = "INVALID_PAYLOAD"
    status = 400
    prefix = "Invalid payload."
    default_message = "Invalid payload."


class InvalidPathParameterError(_ReasonError):
    code = "INVALID_PATH_PARAMETER"
    status = 400
    prefix = "Invalid path parameter."


class RouteNotFoundError(TransomError):
    code = "ROUTE_NOT_FOUND"
    status = 404

    def __init__(self, path: str) -> None:
        super().__init__(f"Route {path} doesn't exist.", path=path)


class MethodNotAllowedError(TransomError):
    code = "METHOD_NOT_ALLOWED"
    status = 405

    def __init__(self, method: str, allowed: list[str] | None = None, path: str = "") -> None:
        self.allowed = sorted(allowed or [])
        super().__init__(
            f'Method "{method}" is not allowed for route "{path}".' if path else None,
            allowed=self.allowed,
        )


class InvalidCredentialsError(TransomError):
    code = "INVALID_CREDENTIALS"
    status = 401
    default_message = "Invalid user credentials."


class InvalidTokenError(TransomError):
    code = "INVALID_TOKEN"
    status = 403
    default_message = "Invalid token."


class TokenExpiredError(TransomError):
    code = "TOKEN_EXPIRED"
    status = 401
    default_message = "Token expired."


class InvalidOtpError(TransomError):
    code = "INVALID_OTP"
    status = 401
    default_message = "Invalid user OTP."


class InvalidIpError(TransomError):
    code = "INVALID_IP"
    status = 401
    default_message = "Invalid IP address."


class UserSuspendedError(TransomError):
    code = "USER_SUSPENDED"
    status = 401
    default_message = "User suspended."


class RequestsExceededError(TransomError):
    code = "REQUESTS_EXCEEDED"
    status = 429
    default_message = "Too many requests, retry later."

    def __init__(self, message: str | None = None, retry_after: int | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ServiceUnavailableError(TransomError):
    code = "SERVICE_UNAVAILABLE"
    status = 503

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"Service {service!r} is unavailable. {reason}.", service=service)


class UnsupportedMediaTypeError(TransomError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class ContentTooLargeError(TransomError):
    code = "CONTENT_TOO_LARGE"
    status = 413
    default_message = "Uploaded content is too large."


class LimitExceededError(TransomError):
    code = "LIMIT_EXCEEDED"
    status = 403


class FailedValidationError(TransomError):
    """One field's validation failure; several are raised together as :class:`ErrorGroup`."""

    code = "FAILED_VALIDATION"
    status = 400

    def __init__(self, field: str, type: str, message: str | None = None, **ext: Any) -> None:
        msg = message or f'Validation failed for field "{field}".'
        super().__init__(msg, field=field, type=type, **ext)


class _DatabaseFieldError(TransomError):
    """A database constraint error translated per dialect; names collection and field."""

    status = 400
    template = "{field}"

    def __init__(
        self,
        collection: str | None = None,
        field: str | None = None,
        value: Any = None,
        message: str | None = None,
    ) -> None:
        if message is None:
            message = (
                self.template.format(collection=collection, field=field, value=value)
                if field and collection
                else self.default_message
            )
        super().__init__(message, collection=collection, field=field, value=value)


class RecordNotUniqueError(_DatabaseFieldError):
    code = "RECORD_NOT_UNIQUE"
    default_message = "Value has to be unique."
    template = 'Value for field "{field}" in collection "{collection}" has to be unique.'


class NotNullViolationError(_DatabaseFieldError):
    code = "NOT_NULL_VIOLATION"
    default_message = "Value can't be null."
    template = 'Value for field "{field}" in collection "{collection}" can\'t be null.'


class InvalidForeignKeyError(_DatabaseFieldError):
    code = "INVALID_FOREIGN_KEY"
    default_message = "Invalid foreign key."
    template = 'Invalid foreign key "{value}" for field "{field}" in collection "{collection}".'


class ValueTooLongError(_DatabaseFieldError):
    code = "VALUE_TOO_LONG"
    default_message = "Value is too long."
    template = 'Value for field "{field}" in collection "{collection}" is too long.'


class ValueOutOfRangeError(_DatabaseFieldError):
    code = "VALUE_OUT_OF_RANGE"
    default_message = "Numeric value is out of range."
    template = 'Numeric value for field "{field}" in collection "{collection}" is out of range.'


class ContainsNullValuesError(_DatabaseFieldError):
    code = "CONTAINS_NULL_VALUES"
    default_message = "Field contains null values."
    template = 'Field "{field}" in collection "{collection}" contains null values.'


class InvalidMetadataError(_ReasonError):
    code = "INVALID_METADATA"
    status = 400
    prefix = "Invalid metadata."


class UnprocessableContentError(_ReasonError):
    code = "UNPROCESSABLE_CONTENT"
    status = 422
    prefix = "Can't process content."


class ErrorGroup(TransomError):
    """Several client errors answered together (Directus answers validation per field)."""

    def __init__(self, errors: list[TransomError]) -> None:
        self.errors = errors
        statuses = {e.status for e in errors}
        self.status = statuses.pop() if len(statuses) == 1 else 500
        self.code = errors[0].code if errors else "INTERNAL_SERVER_ERROR"
        super().__init__(errors[0].message if errors else None)


def error_body(exc: TransomError) -> dict[str, Any]:
    """The JSON body for a typed error."""
    items = exc.errors if isinstance(exc, ErrorGroup) else [exc]
    return {"errors": [e.to_dict() for e in items]}
