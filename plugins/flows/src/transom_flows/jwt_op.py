"""The ``json-web-token`` operation: sign, verify or decode a JWT (PyJWT).

Options as Directus 11 names them: ``operation`` (``sign`` | ``verify`` | ``decode``),
``payload`` (sign), ``token`` (verify, decode), ``secret`` (sign, verify) and ``options``,
the option names of Node's ``jsonwebtoken`` that Directus passes through. ``sign`` returns
the token, ``verify`` and ``decode`` its payload. An option this module does not know is a
400, never silently dropped; ``none`` is never an algorithm.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import jwt

from transom.api import InvalidPayloadError

HMAC = ("HS256", "HS384", "HS512")
ALGORITHMS = (*HMAC, "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")
SIGN_OPTIONS = {"algorithm", "expiresIn", "notBefore", "audience", "issuer", "jwtid",
                "subject", "noTimestamp", "header", "keyid"}
VERIFY_OPTIONS = {"algorithms", "audience", "issuer", "subject", "jwtid", "clockTolerance",
                  "ignoreExpiration", "ignoreNotBefore", "maxAge"}
DECODE_OPTIONS = {"json", "complete"}
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31557600}
_SPAN = re.compile(
    r"^\s*(-?\d+(?:\.\d+)?)\s*(ms|msecs?|milliseconds?|s|secs?|seconds?|m|mins?|minutes?|"
    r"h|hrs?|hours?|d|days?|w|weeks?|y|yrs?|years?)?\s*$", re.IGNORECASE)


class JwtOperationError(InvalidPayloadError):
    """A token that does not verify, or options that make no sense (400, the reject path)."""


def _object(value: Any, name: str) -> dict[str, Any]:
    """An option given as an object or as JSON text (Directus's ``optionToObject``)."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise JwtOperationError(f'"{name}" is not valid JSON') from exc
    if not isinstance(value, dict):
        raise JwtOperationError(f'"{name}" must be an object')
    return value


def _seconds(value: Any, name: str) -> float:
    """A ``jsonwebtoken`` time span: a number of seconds, or text as ``ms`` reads it
    (``"2h"``, ``"7 days"``; bare digits in text are milliseconds)."""
    if isinstance(value, bool):
        raise JwtOperationError(f'"{name}" must be a number of seconds or a time span')
    if isinstance(value, int | float):
        return float(value)
    match = _SPAN.match(str(value)) if isinstance(value, str) else None
    if match is None:
        raise JwtOperationError(f'"{name}" must be a number of seconds or a time span')
    unit = (match.group(2) or "ms").lower()
    key = "ms" if unit.startswith("ms") or unit.startswith("milli") else unit[0]
    return float(match.group(1)) * _UNITS[key]


def _unknown(options: dict[str, Any], known: set[str], operation: str) -> None:
    extra = sorted(set(options) - known)
    if extra:
        raise JwtOperationError(f'Unknown option(s) for "{operation}": {", ".join(extra)}')


def _secret(options: dict[str, Any]) -> str:
    secret = options.get("secret")
    if not isinstance(secret, str) or not secret:
        raise JwtOperationError("Undefined JSON Web Token secret")
    return secret


def _token(options: dict[str, Any]) -> str:
    token = options.get("token")
    if not isinstance(token, str) or not token:
        raise JwtOperationError("Undefined JSON Web Token token")
    return token


def sign(payload: Any, secret: str, opts: dict[str, Any]) -> str:
    _unknown(opts, SIGN_OPTIONS, "sign")
    claims = _object(payload, "payload")
    if not claims and payload in (None, ""):
        raise JwtOperationError("Undefined JSON Web Token payload")
    algorithm = str(opts.get("algorithm") or "HS256")
    if algorithm not in ALGORITHMS:
        raise JwtOperationError(f'"algorithm" must be one of [{", ".join(ALGORITHMS)}]')
    now = time.time()
    claims = dict(claims)
    if not opts.get("noTimestamp"):
        claims.setdefault("iat", int(now))
    base = float(claims.get("iat", now))
    if "expiresIn" in opts:
        claims["exp"] = int(base + _seconds(opts["expiresIn"], "expiresIn"))
    if "notBefore" in opts:
        claims["nbf"] = int(base + _seconds(opts["notBefore"], "notBefore"))
    for option, claim in (("audience", "aud"), ("issuer", "iss"), ("jwtid", "jti"),
                          ("subject", "sub")):
        if opts.get(option) is not None:
            claims[claim] = opts[option]
    header = _object(opts.get("header"), "header")
    if opts.get("keyid") is not None:
        header["kid"] = str(opts["keyid"])
    try:
        return jwt.encode(claims, secret, algorithm=algorithm, headers=header or None)
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise JwtOperationError(f"Couldn't sign the token: {exc}") from exc


def verify(token: str, secret: str, opts: dict[str, Any]) -> dict[str, Any]:
    _unknown(opts, VERIFY_OPTIONS, "verify")
    algorithms = opts.get("algorithms") or list(HMAC)
    if not isinstance(algorithms, list) or \
            any(a not in ALGORITHMS for a in algorithms):  # never "none"
        raise JwtOperationError(f'"algorithms" must be a list of [{", ".join(ALGORITHMS)}]')
    checks: dict[str, Any] = {"verify_exp": not opts.get("ignoreExpiration"),
                              "verify_nbf": not opts.get("ignoreNotBefore"),
                              "verify_aud": opts.get("audience") is not None}
    kwargs: dict[str, Any] = {"algorithms": algorithms, "options": checks}
    if opts.get("audience") is not None:
        kwargs["audience"] = opts["audience"]
    if opts.get("issuer") is not None:
        kwargs["issuer"] = opts["issuer"]
    if opts.get("clockTolerance") is not None:
        kwargs["leeway"] = _seconds(opts["clockTolerance"], "clockTolerance")
    try:
        claims = jwt.decode(token, secret, **kwargs)
    except jwt.PyJWTError as exc:
        raise JwtOperationError(f"Invalid JSON Web Token: {exc}") from exc
    for option, claim in (("subject", "sub"), ("jwtid", "jti")):
        if opts.get(option) is not None and claims.get(claim) != opts[option]:
            raise JwtOperationError(f"Invalid JSON Web Token: {claim} mismatch")
    if opts.get("maxAge") is not None:
        issued = claims.get("iat")
        if not isinstance(issued, int | float):
            raise JwtOperationError("Invalid JSON Web Token: iat required when maxAge is set")
        if time.time() - issued > _seconds(opts["maxAge"], "maxAge") + \
                float(kwargs.get("leeway", 0)):
            raise JwtOperationError("Invalid JSON Web Token: maxAge exceeded")
    return claims


def decode(token: str, opts: dict[str, Any]) -> dict[str, Any]:
    """The payload, signature unchecked (as ``jwt.decode`` in Node): never trust it."""
    _unknown(opts, DECODE_OPTIONS, "decode")
    try:
        return jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError as exc:
        raise JwtOperationError(f"Invalid JSON Web Token: {exc}") from exc


def run(options: dict[str, Any]) -> Any:
    operation = options.get("operation")
    opts = _object(options.get("options"), "options")
    if operation == "sign":
        return sign(options.get("payload"), _secret(options), opts)
    if operation == "verify":
        return verify(_token(options), _secret(options), opts)
    if operation == "decode":
        return decode(_token(options), opts)
    raise JwtOperationError('Undefined "Operation" for JSON Web Token')
