"""``@directus/sdk`` (Node) against the live server: uploadFiles, readFiles, readAssetRaw,
importFile, updateFile, deleteFile. Skipped without ``node``/``npm`` unless ``CI=true``."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.live

SDK = Path(__file__).parent / "sdk"


def _node_ready() -> None:
    if not (shutil.which("node") and shutil.which("npm")):
        if os.environ.get("CI") == "true":
            pytest.fail("node and npm are required under CI=true")
        pytest.skip("node/npm not installed")
    if not (SDK / "node_modules" / "@directus" / "sdk").is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=SDK, check=True,
                       capture_output=True, timeout=300)


def test_directus_sdk_files(live_server: Any, ft: Any, file_server: Any) -> None:
    _node_ready()
    srv = live_server("sqlite", env={"IMPORT_IP_DENY_LIST": "169.254.169.254"})
    www_url, www = file_server
    (www / "tiny-square.png").write_bytes(ft.png(10, 10))
    picture = base64.b64encode(ft.png(40, 30)).decode()
    run = subprocess.run(["node", "files.mjs"], cwd=SDK, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "BASE_URL": srv.base_url,
                                           "TOKEN": ft.ADMIN, "PNG_B64": picture,
                                           "IMPORT_URL": f"{www_url}/tiny-square.png"})
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    up = out["uploaded"]
    assert up["title"] == "From the SDK" and up["type"] == "image/png"
    assert (up["filesize"], up["width"]) == (len(ft.png(40, 30)), 40)
    assert out["listed"] == [{"id": up["id"], "title": "From the SDK",
                              "filesize": up["filesize"], "type": "image/png"}]
    assert out["rawMatches"] is True
    assert out["imported"]["filename_download"] == "tiny-square.png"
    assert out["one"] == {"id": out["imported"]["id"], "title": "Imported by SDK",
                          "type": "image/png", "width": 10}
    assert out["thumbIsPng"] is True and out["renamed"] == "Renamed by SDK"
    assert out["remaining"] == [up["id"]]
