"""The official ``@directus/sdk`` ``realtime()`` client (Node) against the real server."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from transom.testing.live import LIVE_ADMIN_TOKEN, create_collection

pytestmark = pytest.mark.live

NODE_DIR = Path(__file__).parent / "node"


def _sdk_installed() -> bool:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return False
    if not (NODE_DIR / "node_modules" / "@directus" / "sdk").is_dir():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                       check=True, capture_output=True, timeout=300)
    return True


def test_directus_sdk_realtime(live_server: Any) -> None:
    assert _sdk_installed(), "node and npm are needed for the @directus/sdk test"
    srv = live_server(env={"WEBSOCKETS_ENABLED": "true"})
    c = create_collection(srv)
    srv.ok("POST", f"/items/{c}", {"title": "first"})
    out = subprocess.run(
        ["node", "--experimental-websocket", "realtime.mjs", srv.base_url, LIVE_ADMIN_TOKEN,
         c], cwd=NODE_DIR, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, (out.stdout, out.stderr[-2000:])
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["auth"] == "ok"
    assert seen["init"] == [{"id": 1, "title": "first"}]
    assert seen["pong"] is True
    assert seen["items"]["title"] == "from the sdk"
    assert seen["create"] == [{"id": seen["items"]["id"], "title": "from the sdk"}]
