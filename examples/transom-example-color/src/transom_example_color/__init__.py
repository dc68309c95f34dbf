"""A ``color`` field type for Transom, written as a third-party plugin would be.

* stored in a ``varchar(7)`` column as ``#rrggbb``, lower case; ``#ABC`` short forms and CSS
  names (``red``, ``rebeccapurple``...) are accepted and expanded;
* anything else (``#12345z``) is a Directus 400 ``FAILED_VALIDATION``;
* filters: ``_eq``, ``_neq``, ``_in``, ``_nin``, ``_null``, ``_nnull`` (``_gt`` is a 400);
  filter operands are normalised like values, so ``_eq: "RED"`` finds ``#ff0000``;
* GraphQL scalar ``HexColor``, OpenAPI ``{"type": "string", "pattern": "^#[0-9a-f]{6}$"}``,
  default admin interface ``select-color``.

It imports from ``transom.api`` only, the documented surface for extension code.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from transom.api import FieldType, hookimpl

__version__ = "0.1.0"

TYPE_NAME = "color"
PATTERN = "^#[0-9a-f]{6}$"
_HEX = re.compile(r"#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")

#: A few CSS named colours (extend as you like).
NAMED: dict[str, str] = {
    "black": "#000000", "white": "#ffffff", "red": "#ff0000", "lime": "#00ff00",
    "green": "#008000", "blue": "#0000ff", "yellow": "#ffff00", "cyan": "#00ffff",
    "aqua": "#00ffff", "magenta": "#ff00ff", "fuchsia": "#ff00ff", "gray": "#808080",
    "grey": "#808080", "silver": "#c0c0c0", "maroon": "#800000", "olive": "#808000",
    "navy": "#000080", "purple": "#800080", "teal": "#008080", "orange": "#ffa500",
    "pink": "#ffc0cb", "brown": "#a52a2a", "rebeccapurple": "#663399",
}


def normalize(value: Any) -> str:
    """``#rrggbb`` in lower case; raises :class:`ValueError` (a 400) for anything else."""
    if not isinstance(value, str):
        raise ValueError("Value has to be a color such as #ff0000")
    text = value.strip()
    named = NAMED.get(text.lower())
    if named is not None:
        return named
    m = _HEX.fullmatch(text)
    if m is None or (not text.startswith("#") and len(text) != 6):
        raise ValueError(f'Value has to be a color such as #ff0000, not "{value}"')
    digits = m.group(1).lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    return "#" + digits


def column(dialect_name: str) -> sa.types.TypeEngine[Any]:
    """The same ``varchar(7)`` on every database."""
    return sa.String(7)


COLOR = FieldType(
    name=TYPE_NAME,
    column=column,
    to_db=normalize,
    from_db=None,  # stored as it is sent: no conversion on the read path
    operators=frozenset({"_eq", "_neq", "_in", "_nin", "_null", "_nnull"}),
    graphql_scalar="HexColor",
    openapi={"type": "string", "pattern": PATTERN},
    interface="select-color",
)


@hookimpl
def register_field_types(cms: Any) -> Any:
    return COLOR
