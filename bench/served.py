"""The bench app (bench.hello) served the way production serves leanplan, for figures over HTTP.

gunicorn runs with deploy/gunicorn.conf.py, the settings `leanplan serve` uses too (sync
workers, WEB_CONCURRENCY of them, default 2; one JSON log line per request), so a figure
measured here includes what production pays per request and nothing it does not.
"""

from __future__ import annotations

import http.client
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.hello import HELLO_PATH

ROOT = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60


@contextmanager
def served(database_url: str) -> Iterator[int]:
    """gunicorn serving the bench app on `database_url` at a free port of 127.0.0.1 until the
    block ends; the port is yielded once hello answers, and the server is stopped by PID."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [
        sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
        "-b", f"127.0.0.1:{port}", "bench.hello:create_bench_app()",
    ]  # fmt: skip
    environ = dict(os.environ) | {
        "DATABASE_URL": database_url,
        "LEANPLAN_SECRET_KEY": secrets.token_urlsafe(32),  # one for all workers, as deployed
    }
    process = subprocess.Popen(
        command, cwd=ROOT, env=environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )  # deploy/gunicorn.conf.py makes the workers' shared metrics folder itself
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _answers(port):
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.1)
        yield port
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", HELLO_PATH)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
