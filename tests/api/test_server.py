"""`web.server.serve` runs the app under gunicorn, reachable on this machine only by default."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status, response.read()


@pytest.mark.slow
def test_serve_answers_under_gunicorn_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_port()
    url = f"sqlite:///{tmp_path / 'served.sqlite3'}"
    env = os.environ | {
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": url,
        "WEB_CONCURRENCY": "1",
        "LEANPLAN_SECRET_KEY": "test",
    }
    leanplan = Path(sys.executable).with_name("leanplan")  # the console script, as users run it
    server = subprocess.Popen(
        [str(leanplan), "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/api/v1/openapi.json")
                break
            except OSError:
                assert server.poll() is None, server.communicate()[0].decode()
                assert time.monotonic() < deadline, "the server did not answer in time"
                time.sleep(0.1)
        assert status == 200
        assert json.loads(body)["openapi"].startswith("3.")
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=STARTUP_SECONDS)[0].decode()
    assert server.returncode == 0, output
    assert "gunicorn" in output.lower() and f"127.0.0.1:{port}" in output
    assert (tmp_path / "served.sqlite3").exists()  # DATABASE_URL reached the server
