"""Assertions already used, shared by every worker and instance through the database.

A captured ``SAMLResponse`` stays valid until its ``NotOnOrAfter``; whoever holds it could
post it again. So the first successful check records the assertion (a hash of provider,
issuer and ID, the primary key) until it expires, and a second use anywhere finds the row:
the insert of a replay fails on the key, even when both arrive at the same moment on two
workers (the database lets only one insert win).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

import sqlalchemy as sa

from transom.api import InvalidCredentialsError, Migration, hookimpl

log = logging.getLogger("transom.auth.saml")

TABLE = "transom_saml_assertions"
_metadata = sa.MetaData()
used = sa.Table(
    TABLE, _metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("expires", sa.DateTime, nullable=False, index=True),  # naive UTC
)


def _create(conn: Any, dialect: Any) -> None:
    _metadata.create_all(conn, checkfirst=True)


def _drop(conn: Any, dialect: Any) -> None:
    _metadata.drop_all(conn, checkfirst=True)


@hookimpl
def register_migrations(cms: Any) -> Any:
    return [Migration("20261203T-auth-saml-1", "transom-auth-saml-used-assertions",
                      _create, _drop)]


@hookimpl
def extend_schema(cms: Any, schema: Any) -> Any:
    """The table is the plugin's own: no /items, no GraphQL type for it."""
    schema.tables.pop(TABLE, None)
    return None


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).replace(tzinfo=None, microsecond=0)


def assertion_key(provider: str, issuer: str, assertion_id: str) -> str:
    return hashlib.sha256("\x00".join((provider, issuer, assertion_id)).encode()).hexdigest()


def consume(cms: Any, key: str, expires_epoch: float, now_epoch: float) -> None:
    """Record a used assertion until ``expires_epoch`` (when it is refused anyway);
    INVALID_CREDENTIALS if it was used before."""
    # kept one second past its end, so that no clock rounding reopens it
    expires = _utc(max(expires_epoch, now_epoch) + 1)
    try:
        with cms.begin() as conn:
            conn.execute(used.insert().values(id=key, expires=expires))
    except sa.exc.IntegrityError:
        log.warning("SAML assertion replayed (%s)", key[:12])
        raise InvalidCredentialsError() from None
    with cms.begin() as conn:  # forget the ones that can no longer be replayed anyway
        conn.execute(used.delete().where(used.c.expires < _utc(now_epoch)))
