"""Browser-test fixtures: the real server in its own process, and Debian's Chromium driven by Playwright.

The server is started the way people start it (`leanplan serve`, gunicorn) on a free loopback port
and stopped by its PID, so these tests cover the production path rather than a test client.
Chromium comes from Debian (`/usr/bin/chromium`); Playwright's own browser download is never used.
Under CI a missing browser fails the run, so a green CI cannot hide untested pages.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.bootstrap import open_leanplan
from adapters.credentials import register_user
from tests.e2e.support import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-password-1"
START_TIMEOUT_SECONDS = 30
STOP_TIMEOUT_SECONDS = 10


def _missing(what: str) -> None:
    """Fail under CI, where browser tests must run; skip elsewhere, saying how to get them running."""
    message = (
        f"{what}; install Debian's Chromium with `apt-get install chromium` (or run .ci/install-browser)"
    )
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} not found")
    return CHROMIUM


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{url}/sign-in", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {START_TIMEOUT_SECONDS} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the gunicorn master by its PID: it stops its workers and exits."""
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT_SECONDS)


@pytest.fixture(scope="session")
def server(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`leanplan serve` on a fresh SQLite file, with one user who can sign in."""
    folder = tmp_path_factory.mktemp("e2e-server")
    database_url = f"sqlite:///{folder / 'leanplan.sqlite3'}"
    application = open_leanplan(database_url)
    register_user(application, "alice", email="alice@example.org", actor="e2e", password=PASSWORD)
    application.close()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "LEANPLAN_SECRET_KEY": "e2e-secret-key",
        "LEANPLAN_BASE_URL": url,  # feed links point at this server
        "WEB_CONCURRENCY": "1",
        "PYTHONPATH": str(REPO_ROOT),
    }
    log = folder / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_up(url, process, log)
        yield Server(url, database_url, "alice", PASSWORD)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def browser(chromium: Path) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser context (no cookies) per test, signed in as the server's user."""
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.goto("/plans")
    tab.get_by_label("Name").fill(server.user)
    tab.get_by_label("Password").fill(server.password)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url("**/plans")
    yield tab
    context.close()


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: $LEANPLAN_SCREENSHOTS when set (to keep them), else a temporary folder."""
    chosen = os.environ.get("LEANPLAN_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder
