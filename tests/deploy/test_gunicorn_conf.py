"""deploy/gunicorn.conf.py, loaded by gunicorn's own loader, holds exactly the settings
`leanplan serve` uses, and plain gunicorn started with it serves with WEB_CONCURRENCY workers and
stops cleanly on SIGTERM (tests/deploy/test_dockerfile.py runs `leanplan serve` the same way)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gunicorn.app.base import Application
from gunicorn.config import Config

from tests.deploy.support import DEPLOY, REPO, children, free_port, wait_until_answering
from web.gunicorn_settings import DEFAULT_BIND, GRACEFUL_TIMEOUT_SECONDS, gunicorn_options

CONF = DEPLOY / "gunicorn.conf.py"
WORKERS = 3
KEY = "a-test-key-long-enough-for-the-check-0123456789"


class _Loaded(Application):  # type: ignore[misc]
    """gunicorn's Application reading only the configuration file, not sys.argv."""

    def __init__(self, path: Path) -> None:
        self._path = path
        super().__init__()

    def load_config(self) -> None:
        self.load_config_from_file(str(self._path))

    def load(self) -> Any:
        raise AssertionError("the test never serves")


def _as_gunicorn_keeps(name: str, value: Any) -> Any:
    fresh = Config()
    fresh.set(name, value)
    return fresh.settings[name].get()


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    chosen = {"WEB_CONCURRENCY": "5", "FORWARDED_ALLOW_IPS": "10.0.0.0/8,192.0.2.1"}
    for name, value in chosen.items():
        monkeypatch.setenv(name, value)
    return chosen


def test_the_file_yields_exactly_the_settings_of_leanplan_serve(
    environment: dict[str, str],
) -> None:
    loaded = _Loaded(CONF).cfg
    expected = gunicorn_options(os.environ)
    for name, value in expected.items():
        assert loaded.settings[name].get() == _as_gunicorn_keeps(name, value), name
    assert loaded.workers == 5
    assert loaded.forwarded_allow_ips == ["10.0.0.0/8", "192.0.2.1"]
    assert loaded.bind == [DEFAULT_BIND], "the same loopback default as `leanplan serve`"
    assert loaded.graceful_timeout == GRACEFUL_TIMEOUT_SECONDS
    assert loaded.wsgi_app == "web:create_app()"
    assert loaded.errorlog == "-" and loaded.accesslog is None


def test_the_file_sets_up_the_shared_metrics_folder_around_the_server(
    environment: dict[str, str],
) -> None:
    loaded = _Loaded(CONF).cfg
    defaults = Config()
    assert loaded.on_starting is not defaults.on_starting
    assert loaded.on_exit is not defaults.on_exit


def _run(
    argv: Callable[[int], list[str]], tmp_path: Path
) -> tuple[int, str, list[int], list[Path]]:
    """Starts a server on a free port, counts its workers once it answers, stops it (SIGTERM)."""
    port = free_port()
    env = os.environ | {
        "PYTHONPATH": str(REPO),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'served.sqlite3'}",
        "LEANPLAN_SECRET_KEY": KEY,
        "WEB_CONCURRENCY": str(WORKERS),
        "TMPDIR": str(tmp_path),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    server = subprocess.Popen(
        argv(port), cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        wait_until_answering(server, f"http://127.0.0.1:{port}/healthz")
        workers = children(server.pid)
        metrics_folders = list(tmp_path.glob("leanplan-metrics-*"))
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode()
    return server.returncode, output, workers, metrics_folders


@pytest.mark.slow
def test_plain_gunicorn_with_the_file_serves_with_web_concurrency_workers(
    tmp_path: Path,
) -> None:
    status, output, workers, folders = _run(
        lambda port: [sys.executable, "-m", "gunicorn", "-c", str(CONF), "-b", f"127.0.0.1:{port}"],
        tmp_path,
    )
    assert status == 0, output
    assert len(workers) == WORKERS, output
    assert len(folders) == 1, "the metrics folder existed while serving"
    assert not folders[0].exists(), "and is gone after the stop"
    assert "Traceback" not in output
