"""The s3 driver against a real S3-compatible server (moto, server mode, on 127.0.0.1):
directly, then behind /files and /assets of the live server on every backend."""

from __future__ import annotations

import http.client
import io
import json
import uuid
from typing import Any

import pytest
from PIL import Image
from transom_storage_s3 import S3Storage

from transom.testing.live import LIVE_ADMIN_TOKEN


def _driver(b: dict[str, Any], **extra: Any) -> S3Storage:
    return S3Storage("s3", {"bucket": b["bucket"], "endpoint": b["endpoint"], "key": b["key"],
                            "secret": b["secret"], "region": b["region"], **extra})


def test_driver_streams_ranges_multipart_list_delete(s3_bucket: dict[str, Any]) -> None:
    store = _driver(s3_bucket, root="site-a", part_size=5 * 1024 * 1024)
    big = bytes(range(256)) * (12 * 4096)  # 12 MiB: three parts of a multipart upload
    assert store.write("f1.bin", (big[i:i + 65536] for i in range(0, len(big), 65536))) == \
        len(big)
    assert store.write("f1__thumb.webp", [b"small"]) == 5
    head = s3_bucket["client"].head_object(Bucket=s3_bucket["bucket"], Key="site-a/f1.bin")
    assert head["ContentLength"] == len(big) and head["ETag"].strip('"').endswith("-3")
    assert b"".join(store.read("f1.bin")) == big
    assert b"".join(store.read("f1.bin", 1000, 1010)) == big[1000:1010]
    assert b"".join(store.read("f1.bin", len(big) - 3)) == big[-3:]
    found = store.stat("f1.bin")
    assert found is not None and found.size == len(big)
    assert store.stat("missing.bin") is None
    assert sorted(store.list("f1__")) == ["f1__thumb.webp"]
    assert sorted(store.list()) == ["f1.bin", "f1__thumb.webp"]

    def failing() -> Any:
        yield b"x" * (6 * 1024 * 1024)
        raise RuntimeError("client went away")

    with pytest.raises(RuntimeError):
        store.write("broken.bin", failing())
    assert store.stat("broken.bin") is None
    uploads = s3_bucket["client"].list_multipart_uploads(Bucket=s3_bucket["bucket"])
    assert not uploads.get("Uploads")  # the aborted upload is gone
    store.delete("f1.bin")
    store.delete("f1.bin")  # twice: no error
    assert sorted(store.list()) == ["f1__thumb.webp"]
    with pytest.raises(Exception, match="Invalid storage key"):
        store.write("../escape", [b""])


def _call(base: str, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        conn.request(method, path, body=body, headers={
            "Authorization": f"Bearer {LIVE_ADMIN_TOKEN}", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def _jpeg(w: int, h: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (w, h), (200, 40, 40)).save(out, format="JPEG")
    return out.getvalue()


@pytest.mark.live
def test_files_on_s3_over_http(live_server: Any, backend: str,
                               s3_bucket: dict[str, Any]) -> None:
    srv = live_server(env={
        "STORAGE_LOCATIONS": "s3,local", "STORAGE_S3_DRIVER": "s3",
        "STORAGE_S3_KEY": s3_bucket["key"], "STORAGE_S3_SECRET": s3_bucket["secret"],
        "STORAGE_S3_BUCKET": s3_bucket["bucket"], "STORAGE_S3_REGION": s3_bucket["region"],
        "STORAGE_S3_ENDPOINT": s3_bucket["endpoint"], "STORAGE_S3_ROOT": "cms"})
    client, bucket = s3_bucket["client"], s3_bucket["bucket"]
    photo = _jpeg(300, 200)
    big = b"0123456789abcdef" * (700 * 1024)  # 11.2 MB: a multipart upload to S3
    boundary = uuid.uuid4().hex
    body = b"".join([
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="red.jpg"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode(), photo, b"\r\n",
        f'--{boundary}\r\nContent-Disposition: form-data; name="storage"\r\n\r\nlocal\r\n'
        .encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="log.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\n".encode(), b"on disk\r\n",
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode(), big, b"\r\n",
        f"--{boundary}--\r\n".encode()])
    status, _, raw = _call(srv.base_url, "POST", "/files", body,
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200, raw
    red, log, blob = json.loads(raw)["data"]
    assert (red["storage"], log["storage"], blob["storage"]) == ("s3", "local", "s3")
    assert (red["width"], red["height"]) == (300, 200)
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {f"cms/{red['filename_disk']}", f"cms/{blob['filename_disk']}"}
    assert client.head_object(Bucket=bucket, Key=f"cms/{blob['filename_disk']}")[
        "ETag"].strip('"').rsplit("-", 1)[-1] == "2"

    status, headers, data = _call(srv.base_url, "GET", f"/assets/{blob['id']}",
                                  headers={"Range": "bytes=5000000-5000099"})
    assert status == 206 and data == big[5000000:5000100]
    assert headers["Content-Range"] == f"bytes 5000000-5000099/{len(big)}"
    status, _, data = _call(srv.base_url, "GET", f"/assets/{blob['id']}")
    assert status == 200 and data == big
    status, _, data = _call(srv.base_url, "GET", f"/assets/{log['id']}")
    assert status == 200 and data == b"on disk"

    status, headers, data = _call(srv.base_url, "GET", f"/assets/{red['id']}?width=60&format=png")
    assert status == 200 and Image.open(io.BytesIO(data)).size == (60, 40)
    cached = [o["Key"] for o in client.list_objects_v2(
        Bucket=bucket, Prefix=f"cms/{red['id']}__")["Contents"]]
    assert len(cached) == 1 and cached[0].endswith(".png")

    assert _call(srv.base_url, "DELETE", f"/files/{red['id']}")[0] == 204
    assert _call(srv.base_url, "DELETE", f"/files/{blob['id']}")[0] == 204
    assert not client.list_objects_v2(Bucket=bucket).get("Contents")
