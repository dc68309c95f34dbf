"""The ``register_storage`` hook and the built-in local driver, in process."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from transom.api import InvalidPayloadError, Listener, LocalStorage, hookimpl, storages
from transom.testing.plugin import ADMIN_TOKEN

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class ArchiveStorage(LocalStorage):
    """A driver from a plugin: local files, counting what it wrote."""

    written: list[str] = []

    def write(self, key: str, chunks: Any) -> int:
        ArchiveStorage.written.append(key)
        return super().write(key, chunks)


def test_hook_register_storage(make_app: Any, tmp_path: Path, ft: Any) -> None:
    ArchiveStorage.written = []
    plugin = SimpleNamespace(register_storage=hookimpl(lambda cms: {"archive": ArchiveStorage}))
    app = make_app(config={"STORAGE_LOCATIONS": "local,cold,broken",
                           "STORAGE_LOCAL_ROOT": str(tmp_path / "hot"),
                           "STORAGE_COLD_DRIVER": "archive",
                           "STORAGE_COLD_ROOT": str(tmp_path / "cold"),
                           "STORAGE_BROKEN_DRIVER": "ftp"}, plugins=[plugin])
    client = app.test_client()
    body, ctype = ft.multipart([("storage", "cold"), ("file", ("a.txt", b"cold data",
                                                               "text/plain"))])
    r = client.post("/files", data=body, headers={**ADMIN, "Content-Type": ctype})
    assert r.status_code == 200, r.get_json()
    row = r.get_json()["data"]
    assert row["storage"] == "cold" and ArchiveStorage.written == [row["filename_disk"]]
    assert (tmp_path / "cold" / row["filename_disk"]).read_bytes() == b"cold data"
    assert client.get(f"/assets/{row['id']}", headers=ADMIN).data == b"cold data"

    body, ctype = ft.multipart([("file", ("b.txt", b"hot", "text/plain"))])
    row = client.post("/files", data=body, headers={**ADMIN, "Content-Type": ctype}
                      ).get_json()["data"]
    assert row["storage"] == "local"  # the first location is the default
    assert (tmp_path / "hot" / row["filename_disk"]).read_bytes() == b"hot"

    for location, status in (("nowhere", 400), ("broken", 503)):
        body, ctype = ft.multipart([("storage", location),
                                    ("file", ("c.txt", b"x", "text/plain"))])
        r = client.post("/files", data=body, headers={**ADMIN, "Content-Type": ctype})
        assert r.status_code == status, r.get_json()
    assert {"archive", "local"} <= set(storages(app.extensions["transom"]).drivers)


def test_local_storage_ranges_list_and_keys(tmp_path: Path) -> None:
    store = LocalStorage("local", {"root": str(tmp_path)})
    data = bytes(range(256)) * 1000
    assert store.write("f1.bin", [data[:1000], data[1000:]]) == len(data)
    store.write("f1__x.webp", [b"t"])
    store.write("sub/f2.bin", [b"two"])
    assert b"".join(store.read("f1.bin", 10, 20)) == data[10:20]
    assert b"".join(store.read("f1.bin", len(data) - 5)) == data[-5:]
    assert sorted(store.list("f1__")) == ["f1__x.webp"]
    assert sorted(store.list("sub/")) == ["sub/f2.bin"]
    assert sorted(store.list()) == ["f1.bin", "f1__x.webp", "sub/f2.bin"]
    stat = store.stat("f1.bin")
    assert stat is not None and stat.size == len(data) and store.stat("nope") is None
    store.delete("f1.bin")
    store.delete("f1.bin")
    assert store.stat("f1.bin") is None
    for bad in ("../etc/passwd", "/abs", "a//b", "a\\b", ""):
        with pytest.raises(InvalidPayloadError):
            store.write(bad, [b""])


def test_files_upload_action(make_app: Any, tmp_path: Path, ft: Any) -> None:
    """``files.upload`` fires after an upload and after a content replacement."""
    seen: list[dict[str, Any]] = []
    plugin = SimpleNamespace(register_listeners=hookimpl(
        lambda cms: [Listener("files.upload", lambda meta, context: seen.append(meta))]))
    app = make_app(config={"STORAGE_LOCAL_ROOT": str(tmp_path)}, plugins=[plugin])
    client = app.test_client()
    body, ctype = ft.multipart([("file", ("a.png", ft.png(4, 2), "image/png"))])
    row = client.post("/files", data=body, headers={**ADMIN, "Content-Type": ctype}
                      ).get_json()["data"]
    assert [(m["key"], m["collection"], m["payload"]["width"]) for m in seen] == \
        [(row["id"], "directus_files", 4)]
    body, ctype = ft.multipart([("file", ("b.png", ft.png(8, 2), "image/png"))])
    r = client.patch(f"/files/{row['id']}", data=body, headers={**ADMIN, "Content-Type": ctype})
    assert r.status_code == 200 and seen[-1]["payload"]["width"] == 8
