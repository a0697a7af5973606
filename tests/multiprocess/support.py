"""Processes as an operator runs them — `leanplan serve` and `leanplan sync` — and a plain HTTP
client for the JSON API, for tests where several of them share one database."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from tests.caldav.support import free_port

REPO = Path(__file__).resolve().parents[2]
LEANPLAN = Path(sys.executable).with_name("leanplan")
"""The console script of this venv: what an operator starts."""
STARTUP_SECONDS = 60.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    *,
    token: str | None = None,
    body: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Answer:
    """One request on a connection of its own (gunicorn's sync workers close it after each)."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=payload, headers=sent)
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, content)


class Process:
    """A subprocess with its output in a file; stopped by PID."""

    def __init__(self, arguments: Sequence[str], environ: Mapping[str, str], log: Path) -> None:
        self.log = log
        with log.open("ab") as output:
            self.popen = subprocess.Popen(
                [str(LEANPLAN), *arguments], env=dict(environ), cwd=log.parent,
                stdout=output, stderr=subprocess.STDOUT,
            )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL if it does not end in time; the exit status."""
        if self.alive():
            os.kill(self.pid, signal.SIGTERM)
            try:
                return self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
        return self.popen.wait()

    def kill(self) -> int:
        os.kill(self.pid, signal.SIGKILL)
        return self.popen.wait()


class Processes:
    """Starts leanplan processes for one test and stops every one of them at its end."""

    def __init__(self, folder: Path, environ: Mapping[str, str]) -> None:
        self.folder = folder
        self.environ = dict(environ)
        self.started: list[Process] = []

    def serve(self, count: int, workers: int = 2) -> list[tuple[Process, int]]:
        """`count` times `leanplan serve` on free ports with `workers` gunicorn workers each,
        started together, once every one answers."""
        servers = []
        for _ in range(count):
            port = free_port()
            arguments = ["serve", "--host", "127.0.0.1", "--port", str(port)]
            process = self._start(arguments, {"WEB_CONCURRENCY": str(workers)}, f"serve-{port}")
            servers.append((process, port))
        for process, port in servers:
            _wait(
                partial(_answers, port),
                process,
                f"`leanplan serve` on port {port} did not answer within {STARTUP_SECONDS} s",
            )
        return servers

    def sync(self, *options: str) -> Process:
        return self._start(["sync", *options], {}, f"sync-{len(self.started)}")

    def _start(self, arguments: list[str], extra: dict[str, str], name: str) -> Process:
        process = Process(arguments, self.environ | extra, self.folder / f"{name}.log")
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()


def _answers(port: int) -> bool:
    try:
        return request(port, "GET", "/api/v1/openapi.json").status == 200
    except OSError:
        return False


def _wait(condition: Callable[[], bool], process: Process, message: str) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while not condition():
        if not process.alive():
            raise AssertionError(f"{message}; it exited:\n{process.output()}")
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.1)


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 60.0) -> None:
    """Polls `condition` until it holds; fails naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {seconds} s")
        time.sleep(0.1)
