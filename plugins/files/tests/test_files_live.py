"""/files and /assets over HTTP against the real server (2 gunicorn workers), per backend.

One server per backend runs the whole story, so that each step also checks that the
other worker sees what the first one wrote (content in storage, rows, cached transforms).
"""

from __future__ import annotations

import io
import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from transom.testing.live import create_collection, create_user

pytestmark = pytest.mark.live

ENV = {
    "FILES_MAX_UPLOAD_SIZE": "300kb",
    "FILES_MIME_TYPE_ALLOW_LIST": "image/*,text/plain",
    "ASSETS_CACHE_TTL": "1h",
    "ASSETS_TRANSFORM_IMAGE_MAX_DIMENSION": "2000",
    "ASSETS_TRANSFORM_MAX_OPERATIONS": "2",
    # loopback allowed for the test's own file server; the metadata address stays denied
    "IMPORT_IP_DENY_LIST": "169.254.169.254",
}


def q(params: dict[str, Any]) -> str:
    return urllib.parse.urlencode(params)


def uploads(server: Any) -> Path:
    return Path(server.workdir) / "uploads"


def test_files_and_assets(live_server: Any, backend: str, ft: Any, file_server: Any) -> None:
    srv = live_server(env=ENV)
    base = srv.base_url

    # -- upload: fields before the file set its metadata; title from the name otherwise
    folder = srv.ok("POST", "/folders", {"name": "Photos"})
    photo = ft.jpeg(640, 480)
    r = ft.upload(base, [("title", "Harbour at dawn"), ("folder", folder["id"]),
                         ("file", ("harbour.jpg", photo, "image/jpeg"))])
    assert r.status == 200, r.body
    first = r.json()["data"]
    assert first["title"] == "Harbour at dawn" and first["folder"] == folder["id"]
    assert first["type"] == "image/jpeg" and first["filesize"] == len(photo)
    assert (first["width"], first["height"]) == (640, 480)
    assert first["metadata"]["ifd0"]["Make"] == "TransomCam"
    assert first["filename_download"] == "harbour.jpg" and first["storage"] == "local"
    assert first["filename_disk"] == f"{first['id']}.jpg"
    assert (uploads(srv) / first["filename_disk"]).read_bytes() == photo

    # several files in one request: a list, each with its own fields
    r = ft.upload(base, [("file", ("my-summer_holiday.png", ft.png(32, 16), "image/png")),
                         ("description", "notes"),
                         ("file", ("notes.txt", b"hello files\n" * 10, "text/plain"))])
    assert r.status == 200, r.body
    two = r.json()["data"]
    assert [f["title"] for f in two] == ["My Summer Holiday", "Notes"]
    assert two[0]["description"] is None and two[1]["description"] == "notes"
    assert (two[0]["width"], two[0]["height"]) == (32, 16) and two[1]["width"] is None
    png_id, txt_id = two[0]["id"], two[1]["id"]

    # -- the query language, as on any collection
    listed = srv.ok("GET", "/files?" + q({"filter[type][_starts_with]": "image/",
                                          "fields": "id,title,folder.name",
                                          "sort": "-filesize", "meta": "filter_count"}))
    assert [f["id"] for f in listed] == [first["id"], png_id]
    assert listed[0]["folder"] == {"name": "Photos"}
    status, body = srv.call("GET", "/files?" + q({"aggregate[sum]": "filesize"}))
    assert status == 200 and int(body["data"][0]["sum"]["filesize"]) == \
        len(photo) + two[0]["filesize"] + two[1]["filesize"]
    assert srv.ok("GET", f"/files/{txt_id}?fields=title")["title"] == "Notes"
    assert srv.ok("PATCH", f"/files/{txt_id}", {"title": "Renamed"})["title"] == "Renamed"
    status, body = srv.call("GET", "/files?filter[nope][_eq]=1")
    assert status == 403, body

    # -- limits: 413 and 400 envelopes, nothing left in storage
    before = sorted(p.name for p in uploads(srv).iterdir())
    r = ft.upload(base, [("file", ("big.txt", b"x" * 400_000, "text/plain"))])
    assert r.status == 413, r.body
    assert r.json()["errors"][0]["extensions"]["code"] == "CONTENT_TOO_LARGE"
    r = ft.upload(base, [("file", ("a.pdf", b"%PDF-1.4", "application/pdf"))])
    assert r.status == 400 and "application/pdf" in r.json()["errors"][0]["message"]
    r = ft.request(base, "POST", "/files", b"--x\r\nbroken", {
        "Content-Type": "multipart/form-data; boundary=x"})
    assert r.status == 400, r.body
    assert sorted(p.name for p in uploads(srv).iterdir()) == before

    # a name that is not ASCII: RFC 5987 in Content-Disposition
    r = ft.upload(base, [("file", ("Café Ünïcode.txt", b"u", "text/plain"))])
    assert r.status == 200, r.body
    uni = r.json()["data"]
    assert uni["filename_download"] == "Café Ünïcode.txt" and uni["title"] == "Café Ünïcode"
    r = ft.request(base, "GET", f"/assets/{uni['id']}?download")
    assert r.headers["Content-Disposition"] == (
        "attachment; filename=\"Caf_ _n_code.txt\"; "
        "filename*=UTF-8''Caf%C3%A9%20%C3%9Cn%C3%AFcode.txt")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert srv.call("DELETE", f"/files/{uni['id']}")[0] == 204

    # -- /assets: content, download, ranges, validators, 304
    asset = f"/assets/{first['id']}"
    r = ft.request(base, "GET", asset)
    assert r.status == 200 and r.body == photo
    assert r.headers["Content-Type"] == "image/jpeg"
    assert r.headers["Cache-Control"] == "public, max-age=3600"
    assert r.headers["Content-Disposition"].startswith("inline")
    etag, modified = r.headers["ETag"], r.headers["Last-Modified"]
    r = ft.request(base, "GET", asset + "?download")
    assert r.headers["Content-Disposition"] == 'attachment; filename="harbour.jpg"'
    r = ft.request(base, "GET", asset, headers={"Range": "bytes=100-199"})
    assert r.status == 206 and r.body == photo[100:200]
    assert r.headers["Content-Range"] == f"bytes 100-199/{len(photo)}"
    r = ft.request(base, "GET", asset, headers={"Range": "bytes=-10"})
    assert r.status == 206 and r.body == photo[-10:]
    r = ft.request(base, "GET", asset, headers={"Range": f"bytes={len(photo) + 5}-"})
    assert r.status == 416
    for _ in range(4):  # both workers
        r = ft.request(base, "GET", asset, headers={"If-None-Match": etag})
        assert r.status == 304 and r.body == b""
        r = ft.request(base, "GET", asset, headers={"If-Modified-Since": modified})
        assert r.status == 304
    r = ft.request(base, "GET", asset, headers={"If-None-Match": '"other"'})
    assert r.status == 200
    assert ft.request(base, "GET", f"/assets/{uuid.uuid4()}").status == 403

    # -- transforms
    r = ft.request(base, "GET", asset + "?" + q({"width": 200, "height": 200, "fit": "cover",
                                                 "format": "webp", "quality": 70}))
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(r.body)).size == (200, 200)
    cached = [p.name for p in uploads(srv).iterdir() if p.name.startswith(first["id"] + "__")]
    assert len(cached) == 1 and cached[0].endswith(".webp")
    mtime = (uploads(srv) / cached[0]).stat().st_mtime_ns
    for _ in range(3):  # reused by either worker, not computed again
        again = ft.request(base, "GET", asset + "?" + q({
            "width": 200, "height": 200, "fit": "cover", "format": "webp", "quality": 70}))
        assert again.body == r.body
    assert (uploads(srv) / cached[0]).stat().st_mtime_ns == mtime
    sizes = {}
    for fit in ("cover", "contain", "inside", "outside"):
        r = ft.request(base, "GET", asset + "?" + q({"width": 300, "height": 100, "fit": fit,
                                                     "format": "png"}))
        assert r.status == 200 and r.headers["Content-Type"] == "image/png"
        sizes[fit] = Image.open(io.BytesIO(r.body)).size
    assert sizes == {"cover": (300, 100), "contain": (300, 100), "inside": (133, 100),
                     "outside": (300, 225)}
    r = ft.request(base, "GET", asset + "?width=1000&withoutEnlargement=true&format=jpg")
    assert Image.open(io.BytesIO(r.body)).size == (640, 480)
    r = ft.request(base, "GET", asset + "?" + q({"transforms": json.dumps([["rotate", 90]]),
                                                 "format": "png"}))
    assert Image.open(io.BytesIO(r.body)).size == (480, 640)
    r = ft.request(base, "GET", asset + "?format=auto", headers={"Accept": "image/webp,*/*"})
    assert r.headers["Content-Type"] == "image/webp" and r.headers["Vary"] == "Accept"
    for bad in ({"width": 5000}, {"fit": "stretch"}, {"width": "wide"}, {"format": "bmp2"},
                {"transforms": json.dumps([["rotate", 1], ["flip"], ["flop"]])},
                {"transforms": json.dumps([["__import__", "os"]])},
                {"transforms": "not json"}, {"quality": 0}):
        r = ft.request(base, "GET", asset + "?" + q(bad))
        assert r.status == 400, (bad, r.status, r.body)
        assert r.json()["errors"][0]["extensions"]["code"] == "INVALID_QUERY"

    # presets from the settings, and storage_asset_transform=presets
    srv.ok("PATCH", "/settings", {"storage_asset_presets": [
        {"key": "thumb", "fit": "cover", "width": 64, "height": 48, "format": "png"}]})
    r = ft.request(base, "GET", asset + "?key=thumb")
    assert r.status == 200 and Image.open(io.BytesIO(r.body)).size == (64, 48)
    assert ft.request(base, "GET", asset + "?key=nope").status == 400
    srv.ok("PATCH", "/settings", {"storage_asset_transform": "presets"})
    assert ft.request(base, "GET", asset + "?width=10").status == 400
    assert ft.request(base, "GET", asset + "?key=thumb").status == 200
    srv.ok("PATCH", "/settings", {"storage_asset_transform": "none"})
    assert ft.request(base, "GET", asset + "?key=thumb").status == 400
    assert ft.request(base, "GET", asset).status == 200  # the original is always served
    srv.ok("PATCH", "/settings", {"storage_asset_transform": "all"})
    r = ft.request(base, "HEAD", asset)
    assert r.status == 200 and r.body == b"" and r.headers["Content-Length"] == str(len(photo))

    # -- import from a URL (loopback allowed by this server's deny list)
    www_url, www = file_server
    (www / "city-lights.png").write_bytes(ft.png(20, 10))
    imported = srv.ok("POST", "/files/import", {"url": f"{www_url}/city-lights.png",
                                               "data": {"description": "imported"}})
    assert imported["title"] == "City Lights" and imported["type"] == "image/png"
    assert (imported["width"], imported["description"]) == (20, "imported")
    assert ft.request(base, "GET", f"/assets/{imported['id']}").body == ft.png(20, 10)
    status, body = srv.call("POST", "/files/import", {"url": "http://169.254.169.254/x"})
    assert status == 403, body
    hop = f"{www_url}/redirect?to=" + urllib.parse.quote("http://169.254.169.254/latest")
    status, body = srv.call("POST", "/files/import", {"url": hop})
    assert status == 403, body  # every redirect is checked again
    hop = f"{www_url}/redirect?to=" + urllib.parse.quote(f"{www_url}/city-lights.png")
    assert srv.ok("POST", "/files/import", {"url": hop})["type"] == "image/png"
    status, body = srv.call("POST", "/files/import", {"url": f"{www_url}/missing.png"})
    assert status == 503, body
    status, body = srv.call("POST", "/files/import", {"url": "file:///etc/passwd"})
    assert status == 400, body
    status, body = srv.call("POST", "/files/import", {"nope": 1})
    assert status == 400, body

    # -- replace content with PATCH multipart: new type, size, stale transforms gone
    r = ft.upload(base, [("title", "Now a PNG"), ("file", ("harbour.png", ft.png(50, 40),
                                                           "image/png"))],
                  path=f"/files/{first['id']}", method="PATCH")
    assert r.status == 200, r.body
    replaced = r.json()["data"]
    assert (replaced["type"], replaced["width"], replaced["title"]) == \
        ("image/png", 50, "Now a PNG")
    assert not (uploads(srv) / first["filename_disk"]).exists()
    assert not [p for p in uploads(srv).iterdir() if p.name.startswith(first["id"] + "__")]
    r = ft.request(base, "GET", asset)
    assert r.body == ft.png(50, 40) and r.headers["ETag"] != etag

    # -- permissions: a reader of PNGs only; anonymous through a public policy
    reader = create_user(srv, [{"collection": "directus_files", "action": "read",
                                "fields": ["*"], "permissions": {"type": {"_eq": "text/plain"}}}])
    assert ft.request(base, "GET", f"/assets/{txt_id}", token=reader["token"]).status == 200
    assert ft.request(base, "GET", asset, token=reader["token"]).status == 403
    assert [f["id"] for f in srv.ok("GET", "/files?fields=id", token=reader["token"])] == \
        [txt_id]
    assert ft.upload(base, [("file", ("x.txt", b"x", "text/plain"))],
                     token=reader["token"]).status == 403
    r = ft.upload(base, [("file", ("x.txt", b"overwritten", "text/plain"))],
                  token=reader["token"], path=f"/files/{txt_id}", method="PATCH")
    assert r.status == 403, r.body  # read is not update: the content stays
    assert ft.request(base, "GET", f"/assets/{txt_id}").body == b"hello files\n" * 10
    assert ft.request(base, "GET", asset, token=None).status == 403
    public = srv.ok("POST", "/policies", {"name": "public files", "app_access": False,
                                          "admin_access": False})
    srv.ok("POST", "/access", {"policy": public["id"], "role": None, "user": None})
    srv.ok("POST", "/permissions", {"policy": public["id"], "collection": "directus_files",
                                    "action": "read", "fields": ["*"],
                                    "permissions": {"type": {"_eq": "image/png"}}})
    for _ in range(4):
        assert ft.request(base, "GET", asset, token=None).status == 200
        assert ft.request(base, "GET", f"/assets/{txt_id}", token=None).status == 403

    # -- file fields: an m2o to directus_files, over REST and GraphQL
    articles = create_collection(srv, None, {"field": "image", "type": "uuid",
                                             "meta": {"special": ["file"], "interface":
                                                      "file-image"}})
    srv.ok("POST", "/relations", {"collection": articles, "field": "image",
                                  "related_collection": "directus_files"})
    srv.ok("POST", f"/items/{articles}", {"title": "with image", "image": png_id})
    item = srv.ok("GET", f"/items/{articles}?fields=title,image.*")[0]
    assert item["image"]["id"] == png_id and item["image"]["type"] == "image/png"
    gql = f"{{ {articles} {{ title image {{ id type filename_download }} }} }}"
    status, body = srv.call("POST", "/graphql", {"query": gql})
    assert status == 200, body
    assert body["data"][articles][0]["image"] == {"id": png_id, "type": "image/png",
                                                  "filename_download": "my-summer_holiday.png"}

    # -- delete: rows, content and cached transforms
    ft.request(base, "GET", f"/assets/{png_id}?width=8&format=webp")
    assert [p for p in uploads(srv).iterdir() if p.name.startswith(png_id + "__")]
    assert ft.request(base, "DELETE", f"/files/{txt_id}", token=reader["token"]).status == 403
    srv.call("DELETE", f"/items/{articles}", {"query": {"limit": -1}})
    assert srv.call("DELETE", f"/files/{png_id}")[0] == 204
    assert not [p for p in uploads(srv).iterdir() if p.name.startswith(png_id)]
    assert ft.request(base, "GET", f"/assets/{png_id}").status == 403
    assert srv.call("DELETE", "/files", {"query": {"filter": {
        "description": {"_eq": "imported"}}}})[0] == 204
    assert not [p for p in uploads(srv).iterdir() if p.name.startswith(imported["id"])]
    assert srv.call("DELETE", "/files", {"query": {"filter": {
        "filename_download": {"_eq": "city-lights.png"}}}})[0] == 204
    assert srv.call("DELETE", "/files", [txt_id])[0] == 204
    left = sorted(p.name for p in uploads(srv).iterdir())
    assert left == [f"{first['id']}.png"], left


def test_import_refuses_local_addresses_by_default(live_server: Any, ft: Any,
                                                   file_server: Any) -> None:
    """Without a setting, loopback is refused (Directus's IMPORT_IP_DENY_LIST default)."""
    srv = live_server("sqlite", workers=1)
    www_url, www = file_server
    (www / "a.png").write_bytes(ft.png())
    status, body = srv.call("POST", "/files/import", {"url": f"{www_url}/a.png"})
    assert status == 403, body
    assert "denied" in body["errors"][0]["message"]
    assert srv.ok("GET", "/files?aggregate[count]=*")[0]["count"] in (0, "0")
