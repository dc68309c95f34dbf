"""What a file says about itself: a title from its name, and for images the size, EXIF and
IPTC, read from the first bytes only (the header), so metadata never costs a second read."""

from __future__ import annotations

import io
import mimetypes
import re
from typing import Any

from PIL import ExifTags, Image, IptcImagePlugin, UnidentifiedImageError

#: bytes of the start of a file kept for metadata (headers and EXIF live there)
HEAD_BYTES = 2 * 1024 * 1024
#: image types Pillow reads that Directus treats as images with a width and height
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff",
               "image/bmp", "image/avif"}
_IPTC = {(2, 5): "ObjectName", (2, 120): "Caption", (2, 25): "Keywords", (2, 80): "Byline",
         (2, 116): "CopyrightNotice", (2, 90): "City", (2, 101): "Country"}


def format_title(filename: str) -> str:
    """``my-summer_photo.jpg`` -> ``My Summer Photo``: extension off, words capitalised."""
    stem = filename.rsplit("/", 1)[-1]
    if "." in stem.lstrip("."):
        stem = stem.rsplit(".", 1)[0]
    words = [w for w in re.split(r"[\s_\-.]+", stem) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words)


def guess_type(filename: str, declared: str | None) -> str:
    """The declared MIME type unless it says nothing (``application/octet-stream``)."""
    declared = (declared or "").split(";")[0].strip().lower()
    if declared and declared != "application/octet-stream":
        return declared
    return mimetypes.guess_type(filename)[0] or declared or "application/octet-stream"


def extension(filename: str, mime: str) -> str:
    """The extension of the stored name (``.jpg``), from the file name or else its type."""
    name = filename.rsplit("/", 1)[-1]
    if "." in name.lstrip("."):
        ext = "." + name.rsplit(".", 1)[-1].lower()
        if re.fullmatch(r"\.[a-z0-9]{1,10}", ext):
            return ext
    return mimetypes.guess_extension(mime) or ""


def _plain(value: Any) -> Any:
    """EXIF values as JSON: rationals to floats, bytes to text when they are text."""
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8").rstrip("\x00") or None
        except UnicodeDecodeError:
            return None
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int | str | bool) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


def _named(tags: Any) -> dict[str, Any]:
    out = {}
    for tag, value in dict(tags).items():
        plain = _plain(value)
        if plain is not None and not isinstance(plain, dict):
            out[ExifTags.TAGS.get(tag, str(tag))] = plain
    return out


def image_metadata(head: bytes, mime: str) -> dict[str, Any]:
    """``width``, ``height`` and ``metadata`` (``ifd0``, ``exif``, ``iptc``) of an image."""
    if mime not in IMAGE_TYPES:
        return {}
    try:
        with Image.open(io.BytesIO(head)) as img:
            out: dict[str, Any] = {"width": img.width, "height": img.height}
            meta: dict[str, Any] = {}
            exif = img.getexif()
            if exif.get(0x0112) in (5, 6, 7, 8):  # shown rotated a quarter turn
                out["width"], out["height"] = img.height, img.width
            if exif:
                ifd0 = _named({k: v for k, v in exif.items() if k != 0x8769})
                if ifd0:
                    meta["ifd0"] = ifd0
                sub = _named(exif.get_ifd(0x8769))
                if sub:
                    meta["exif"] = sub
            iptc = IptcImagePlugin.getiptcinfo(img) or {}
            found = {name: _plain(iptc[key]) for key, name in _IPTC.items() if key in iptc}
            if found:
                meta["iptc"] = found
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return {}
    if meta:
        out["metadata"] = meta
        if isinstance(meta.get("iptc", {}).get("Caption"), str):
            out["description"] = meta["iptc"]["Caption"]
    return out
