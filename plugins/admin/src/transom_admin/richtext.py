"""Markdown and HTML fields: a safe preview of Markdown and sanitised HTML from the editor.

Markdown is rendered by markdown-it-py (CommonMark, raw HTML off, tables and strikethrough
on) and the result still goes through nh3, an allow-list sanitiser; the WYSIWYG editor's HTML
is cleaned by nh3 before it is saved and again before it is shown, so no script, event
handler or ``javascript:`` link written by one user runs in another user's browser.
"""

from __future__ import annotations

from typing import Any

import nh3
from flask import request
from markdown_it import MarkdownIt
from markupsafe import Markup

from .common import bp, signed_in

#: what an editor's HTML may keep: text structure, links, images, tables
TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u",
        "s", "del", "ins", "mark", "sub", "sup", "small", "code", "pre", "kbd", "blockquote",
        "q", "cite", "abbr", "ul", "ol", "li", "dl", "dt", "dd", "a", "img", "figure",
        "figcaption", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "span",
        "div"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"},
              "th": {"scope", "colspan", "rowspan"}, "td": {"colspan", "rowspan"},
              "abbr": {"title"}, "ol": {"start"}}
SCHEMES = {"http", "https", "mailto", "tel"}
PREVIEW_LIMIT = 200_000  # characters: a preview is for a field, not a book

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable(
    ["table", "strikethrough"])


def clean_html(html: str) -> str:
    """``html`` reduced to the allow-list (links get ``rel="noopener noreferrer"``)."""
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES,
                     link_rel="noopener noreferrer")


def render_markdown(text: str | None) -> Markup:
    """Markdown as safe HTML, for the preview next to the textarea."""
    if not text:
        return Markup("")
    return Markup(clean_html(_md.render(str(text)[:PREVIEW_LIMIT])))


def safe_html(value: Any) -> Markup:
    """A stored HTML value, cleaned again before it is put into the editor."""
    return Markup(clean_html(str(value))) if value else Markup("")


bp.add_app_template_filter(render_markdown, "markdown")
bp.add_app_template_filter(safe_html, "safe_html")


@bp.post("/admin/preview/markdown")
@signed_in
def markdown_preview() -> Any:
    """The preview of the Markdown field named by ``preview_field`` (htmx swaps it in as
    one types; the form's CSRF token comes with the fields)."""
    name = request.form.get("preview_field", "")
    return str(render_markdown(request.form.get(name, ""))), 200, {
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store"}
