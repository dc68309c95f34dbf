"""The pure parts: titles, sizes, image metadata, the transform gate, the deny list."""

from __future__ import annotations

import io
import ipaddress

import pytest
from PIL import Image
from transom_files.assets import TransformGate
from transom_files.meta import format_title, image_metadata
from transom_files.store import parse_size

from transom.api import ServiceUnavailableError, ip_listed


@pytest.mark.parametrize(("name", "title"), [
    ("my-summer_photo.jpg", "My Summer Photo"), ("IMG_0042.JPG", "IMG 0042"),
    ("report.final.pdf", "Report Final"), ("notes", "Notes"), (".env", "Env"),
])
def test_format_title(name: str, title: str) -> None:
    assert format_title(name) == title


def test_parse_size() -> None:
    assert parse_size("50mb") == 50 * 1024 * 1024
    assert parse_size("1.5kb") == 1536
    assert parse_size("2048") == 2048
    assert parse_size(None) is None
    with pytest.raises(ValueError):
        parse_size("lots")


def test_transform_gate_answers_503_when_saturated() -> None:
    gate = TransformGate(1)
    with gate:
        with pytest.raises(ServiceUnavailableError) as exc:
            with gate:
                pass
        assert exc.value.status == 503
    with gate:  # released again
        pass


def test_deny_list() -> None:
    local = ["0.0.0.0", "169.254.169.254"]
    for ip in ("127.0.0.1", "10.1.2.3", "192.168.0.9", "169.254.169.254", "::1", "0.0.0.0"):
        assert ip_listed(ipaddress.ip_address(ip), local), ip
    assert not ip_listed(ipaddress.ip_address("93.184.216.34"), local)
    assert not ip_listed(ipaddress.ip_address("127.0.0.1"), ["169.254.169.254"])
    assert ip_listed(ipaddress.ip_address("10.9.9.9"), ["10.0.0.0/8"])


def test_image_metadata_exif_and_orientation() -> None:
    img = Image.new("RGB", (40, 20))
    exif = Image.Exif()
    exif[0x010F] = "Cam"
    exif[0x0112] = 6  # rotated 90°: shown 20 x 40
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif.tobytes())
    meta = image_metadata(out.getvalue(), "image/jpeg")
    assert (meta["width"], meta["height"]) == (20, 40)
    assert meta["metadata"]["ifd0"]["Make"] == "Cam"
    assert image_metadata(b"not an image", "image/png") == {}
    assert image_metadata(out.getvalue(), "text/plain") == {}
