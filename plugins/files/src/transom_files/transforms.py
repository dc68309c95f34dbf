"""Image transforms of ``/assets``: parse and bound the parameters, then resize with Pillow.

Parameters follow Directus: ``width``, ``height``, ``fit`` (cover, contain, inside, outside),
``quality``, ``format`` (jpg, png, webp, tiff, avif when Pillow has it, auto), and
``withoutEnlargement``; ``transforms`` is a JSON array of ``[method, ...args]`` limited to the
operations below; ``key`` names a preset of ``storage_asset_presets``. Each distinct request
maps to one cache key, so a transform is computed once per file and reused.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from PIL import Image, ImageFilter, ImageOps, features

from transom.api import InvalidQueryError

FITS = ("cover", "contain", "inside", "outside")
_FORMATS = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG", "webp": "WEBP", "tiff": "TIFF",
            "avif": "AVIF"}
_MIMES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
          "TIFF": "image/tiff", "AVIF": "image/avif", "GIF": "image/gif"}
_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "TIFF": "tiff", "AVIF": "avif",
        "GIF": "gif"}
#: image types the transforms read
TRANSFORMABLE = {"image/jpeg", "image/png", "image/webp", "image/tiff", "image/gif",
                 "image/avif", "image/bmp"}


def avif_available() -> bool:
    return bool(features.check("avif"))


def _num(args: list[Any], i: int, default: float, lo: float, hi: float, op: str) -> float:
    value = args[i] if len(args) > i else default
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise InvalidQueryError(f'"{op}" expects a number between {lo} and {hi}')
    return float(value)


def _rotate(img: Image.Image, args: list[Any]) -> Image.Image:
    return img.rotate(-_num(args, 0, 0, -360, 360, "rotate"), expand=True)


def _blur(img: Image.Image, args: list[Any]) -> Image.Image:
    return img.filter(ImageFilter.GaussianBlur(_num(args, 0, 1, 0.3, 1000, "blur")))


def _grey(img: Image.Image, args: list[Any]) -> Image.Image:
    return ImageOps.grayscale(img)


#: the allow-listed operations: Directus's (sharp's) names over Pillow
OPERATIONS: dict[str, Callable[[Image.Image, list[Any]], Image.Image]] = {
    "rotate": _rotate,
    "flip": lambda img, args: ImageOps.flip(img),
    "flop": lambda img, args: ImageOps.mirror(img),
    "blur": _blur,
    "greyscale": _grey,
    "grayscale": _grey,
    "negate": lambda img, args: ImageOps.invert(img.convert("RGB")),
    "sharpen": lambda img, args: img.filter(ImageFilter.SHARPEN),
    "normalize": lambda img, args: ImageOps.autocontrast(img.convert("RGB")),
    "normalise": lambda img, args: ImageOps.autocontrast(img.convert("RGB")),
}


@dataclass(frozen=True)
class Transform:
    """One resolved transform request."""

    width: int | None = None
    height: int | None = None
    fit: str = "cover"
    quality: int | None = None
    format: str | None = None  # a Pillow format name, "auto" resolved already
    without_enlargement: bool = False
    operations: tuple[tuple[Any, ...], ...] = field(default_factory=tuple)

    def key(self, file_id: str, source_format: str) -> str:
        """The storage key of this transform of ``file_id`` (stable across workers)."""
        spec = json.dumps([self.width, self.height, self.fit, self.quality, self.format,
                           self.without_enlargement, self.operations], default=str)
        digest = hashlib.sha256(spec.encode()).hexdigest()[:20]
        return f"{file_id}__{digest}.{_EXT.get(self.format or source_format, 'bin')}"

    def mime(self, source_mime: str) -> str:
        return _MIMES.get(self.format or "", source_mime)


def _int(params: Mapping[str, Any], name: str, lo: int, hi: int) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(str(raw))
    except ValueError:
        raise InvalidQueryError(f'"{name}" must be an integer') from None
    if not lo <= value <= hi:
        raise InvalidQueryError(f'"{name}" must be between {lo} and {hi}')
    return value


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1", "")


def parse(params: Mapping[str, Any], *, accept: str, max_dimension: int,
          max_operations: int) -> Transform | None:
    """A :class:`Transform` from query parameters (or a preset), None when none is asked."""
    names = ("width", "height", "fit", "quality", "format", "withoutEnlargement",
             "transforms")
    if not any(params.get(n) not in (None, "") for n in names):
        return None
    fit = str(params.get("fit") or "cover")
    if fit not in FITS:
        raise InvalidQueryError(f'"fit" must be one of {", ".join(FITS)}')
    raw_ops = params.get("transforms") or []
    if isinstance(raw_ops, str):
        try:
            raw_ops = json.loads(raw_ops)
        except ValueError:
            raise InvalidQueryError('"transforms" must be a JSON array') from None
    if not isinstance(raw_ops, list) or not all(
            isinstance(op, list) and op and isinstance(op[0], str) for op in raw_ops):
        raise InvalidQueryError('"transforms" must be an array of [method, ...arguments]')
    for op in raw_ops:
        if op[0] not in OPERATIONS:
            raise InvalidQueryError(f'Transform "{op[0]}" is not allowed')
    if len(raw_ops) > max_operations:
        raise InvalidQueryError(f"At most {max_operations} transforms are allowed")
    fmt = params.get("format")
    pil_format: str | None = None
    if fmt in (None, ""):
        pil_format = None
    elif fmt == "auto":
        if "image/avif" in accept and avif_available():
            pil_format = "AVIF"
        elif "image/webp" in accept:
            pil_format = "WEBP"
    elif fmt in _FORMATS and (fmt != "avif" or avif_available()):
        pil_format = _FORMATS[str(fmt)]
    else:
        raise InvalidQueryError(f'"format" {fmt!r} is not supported')
    return Transform(
        width=_int(params, "width", 1, max_dimension),
        height=_int(params, "height", 1, max_dimension),
        fit=fit, quality=_int(params, "quality", 1, 100), format=pil_format,
        without_enlargement=_bool(params["withoutEnlargement"])
        if "withoutEnlargement" in params else False,
        operations=tuple(tuple(op) for op in raw_ops))


def _resize(img: Image.Image, t: Transform) -> Image.Image:
    sw, sh = img.size
    if t.width is None and t.height is None:
        return img
    w = t.width or max(1, round(sw * t.height / sh))  # type: ignore[operator]
    h = t.height or max(1, round(sh * t.width / sw))  # type: ignore[operator]
    rx, ry = w / sw, h / sh
    ratio = max(rx, ry) if t.fit in ("cover", "outside") else min(rx, ry)
    if t.without_enlargement and ratio > 1:
        ratio = 1.0
    size = (max(1, round(sw * ratio)), max(1, round(sh * ratio)))
    out = img.resize(size, Image.Resampling.LANCZOS) if size != img.size else img
    if t.fit == "cover":
        cw, ch = min(w, out.width), min(h, out.height)
        left, top = (out.width - cw) // 2, (out.height - ch) // 2
        out = out.crop((left, top, left + cw, top + ch))
    elif t.fit == "contain" and (out.width, out.height) != (w, h) and ratio == min(rx, ry):
        mode = "RGBA" if "A" in out.mode else "RGB"
        canvas = Image.new(mode, (w, h), (0, 0, 0, 0) if mode == "RGBA" else (0, 0, 0))
        canvas.paste(out, ((w - out.width) // 2, (h - out.height) // 2))
        out = canvas
    return out


def _draft(img: Image.Image, t: Transform) -> None:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale when the result is smaller anyway."""
    if img.format != "JPEG" or t.operations or (t.width is None and t.height is None):
        return
    if img.getexif().get(0x0112, 1) != 1:  # rotated by EXIF: the box would be swapped
        return
    sw, sh = img.size
    w = t.width or max(1, round(sw * t.height / sh))  # type: ignore[operator]
    h = t.height or max(1, round(sh * t.width / sw))  # type: ignore[operator]
    img.draft("RGB", (w, h))


def apply(source: BinaryIO, t: Transform, max_dimension: int) -> tuple[bytes, str]:
    """Transform an image; its bytes and Pillow format. 400 for images past the limit."""
    with Image.open(source) as img:
        if img.width > max_dimension or img.height > max_dimension:
            raise InvalidQueryError(
                f"Image is larger than {max_dimension} px and cannot be transformed")
        source_format = img.format or "PNG"
        _draft(img, t)
        img = ImageOps.exif_transpose(img)
        img.load()
        for op in t.operations:
            img = OPERATIONS[op[0]](img, list(op[1:]))
        img = _resize(img, t)
        fmt = t.format or source_format
        if fmt == "JPEG" and img.mode not in ("RGB", "L"):
            img = img.convert("RGB")
        out = io.BytesIO()
        options: dict[str, Any] = {}
        if t.quality is not None and fmt in ("JPEG", "WEBP", "AVIF"):
            options["quality"] = t.quality
        img.save(out, format=fmt, **options)
        return out.getvalue(), fmt
