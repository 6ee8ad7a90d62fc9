"""``crmsync sandbox serve`` as a person runs it: it prints URLs and credentials that work."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests


def test_serve_prints_working_urls_and_stops_on_sigterm(tmp_path: Path) -> None:
    crmsync = Path(sys.executable).parent / "crmsync"
    out = tmp_path / "serve.out"
    with out.open("wb") as log:
        process = subprocess.Popen(
            [crmsync, "sandbox", "serve", "--hubspot-port", "0", "--salesforce-port", "0",
             "--companies", "30", "--accounts", "20", "--error-rate", "0"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "400"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while "press Ctrl-C to stop" not in out.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            text = out.read_text()
            hubspot_url = re.search(r"HubSpot\s+(http://127\.0\.0\.1:\d+)", text).group(1)  # type: ignore[union-attr]
            token = re.search(r"private app token: (\S+)", text).group(1)  # type: ignore[union-attr]
            page = requests.get(f"{hubspot_url}/crm/v3/objects/companies?limit=100",
                                headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
            assert page.status_code == 200 and len(page.json()["results"]) == 30
            assert re.search(
                r"Salesforce https://127\.0\.0\.1:\d+\s+org 00D\w{15}, 20 accounts", text
            )
            assert "crmsync connect hubspot --portal-id" in text
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert process.returncode == 0
