"""Which languages a request asks for: ``Accept-Language`` (q-values), ``Content-Language``
and ``?lang=``, turned into an ordered list of codes to try.

Pure functions, no Flask: the request hooks and the tests share them.
"""

from __future__ import annotations

from .translate import valid_lang


def parse_accept_language(header: str | None) -> list[str]:
    """The codes of an ``Accept-Language`` header, best first (q=0 and ``*`` dropped).

    Malformed parts are skipped rather than refused: browsers send this header on every
    request and a bad one must not break a read.
    """
    if not header:
        return []
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        code, _, params = part.strip().partition(";")
        code = code.strip()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = -1.0
        if code == "*" or not valid_lang(code) or not 0 < q <= 1:
            continue
        ranked.append((-q, position, code))
    return [code for _, _, code in sorted(ranked)]


def with_fallbacks(codes: list[str], default: str | None) -> list[str]:
    """``codes`` each followed by its base language (``es-MX`` → ``es``), then ``default``;
    no duplicates, compared case-insensitively."""
    out: list[str] = []
    seen: set[str] = set()

    def add(code: str) -> None:
        if code and code.lower() not in seen:
            seen.add(code.lower())
            out.append(code)

    for code in codes:
        add(code)
        base = code.replace("_", "-").split("-")[0]
        if base != code:
            add(base)
    if default:
        add(default)
    return out

