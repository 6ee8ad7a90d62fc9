"""``crmsync sandbox serve`` as a person runs it: it prints URLs and credentials that work."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


def test_serve_under_a_service_name_publishes_a_certificate_for_that_name(
    tmp_path: Path,
) -> None:
    """In Docker Compose the workers reach the sandbox as ``sandbox``: its URLs must say so
    and the certificate it publishes to the shared volume must be valid for that name."""
    crmsync = Path(sys.executable).parent / "crmsync"
    ca_file = tmp_path / "tls" / "sandbox.pem"
    out = tmp_path / "serve.out"
    with out.open("wb") as log:
        process = subprocess.Popen(
            [crmsync, "sandbox", "serve", "--public-host", "sandbox", "--ca-file", str(ca_file),
             "--hubspot-port", "0", "--salesforce-port", "0", "--companies", "3", "--accounts", "2"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "400"},
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while "press Ctrl-C to stop" not in out.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
            text = out.read_text()
            assert re.search(r"HubSpot\s+http://sandbox:\d+", text)
            port = int(re.search(r"Salesforce https://sandbox:(\d+)", text).group(1))  # type: ignore[union-attr]
            assert f"--instance-url https://sandbox:{port} --ca-bundle {ca_file}" in text
            trusted = ssl.create_default_context(cafile=str(ca_file))
            for name in ("sandbox", "localhost"):
                with (
                    socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                    trusted.wrap_socket(raw, server_hostname=name) as tls,
                ):
                    assert tls.version()
            with (
                pytest.raises(ssl.SSLCertVerificationError, match="sandbox-2"),
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            ):
                trusted.wrap_socket(raw, server_hostname="sandbox-2")
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
    assert process.returncode == 0
