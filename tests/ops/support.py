"""Helpers for the operations tests: reading a scrape, a TCP proxy that can vanish, and
`leanplan serve` in a subprocess whose every output line is kept."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import TestResponse

from tests.caldav.support import free_port, wait_for_port

REPO = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30


class Scrape:
    """One /metrics answer, parsed by prometheus-client's own parser."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            sample
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels; 0 when it is absent (a counter not yet hit)."""
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else 0.0

    def total(self, name: str) -> float:
        return sum(s.value for s in self.samples if s.name == name)

    def by_label(self, name: str, label: str) -> dict[str, float]:
        return {s.labels[label]: s.value for s in self.samples if s.name == name}


def scrape(client: FlaskClient, **headers: str) -> Scrape:
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.content_type.startswith("text/plain; version=0.0.4")
    return Scrape(answer.get_data(as_text=True))


class Api:
    """The API as one user."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, **kwargs: Any) -> TestResponse:
        return self.client.open(f"/api/v1{path}", method=method, headers=self.headers, **kwargs)

    def start_plan(self) -> str:
        created = self.call("POST", "/plans", json={"name": "Launch", "currency": "EUR"})
        assert created.status_code == 201, created.json
        plan_id: str = created.json["id"]
        return plan_id


class TcpProxy:
    """Forwards 127.0.0.1:port to an upstream port until stopped; then the port is closed and
    every connection through it is cut, as when a database host goes away."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # stopped
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def stop(self) -> None:
        if self._listener.fileno() < 0:
            return  # stopped already
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self._listener.close()
        self._accepting.join(timeout=5)
        with self._lock:
            for connection in self._sockets:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # the other side closed it already
                connection.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        return  # the proxy was stopped


class Served:
    """`leanplan serve` (gunicorn) on a free port; stdout and stderr kept line by line."""

    def __init__(self, workdir: Path, environ: Mapping[str, str]) -> None:
        self.port = free_port()
        self.lines: list[str] = []
        self._lock = threading.Lock()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("LEANPLAN_", "PROMETHEUS_")) and key != "WEB_CONCURRENCY"
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "web.cli", "serve", "--port", str(self.port)],
            cwd=workdir,
            env=env | {"PYTHONPATH": str(REPO)} | dict(environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            wait_for_port(self.port, STARTUP_SECONDS)
        except TimeoutError:
            self.stop()
            raise

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._lock:
                self.lines.append(line)

    def output(self) -> list[str]:
        with self._lock:
            return list(self.lines)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """One request on its own connection; headers come back with lower-case names (a
        repeated header, such as Set-Cookie, joined by newlines)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, path, body=body, headers=dict(headers or {}))
            response = connection.getresponse()
            content = response.read()
        finally:
            connection.close()
        answer: dict[str, str] = {}
        for name, value in response.getheaders():
            key = name.lower()
            answer[key] = f"{answer[key]}\n{value}" if key in answer else value
        return response.status, answer, content

    def stop(self) -> str:
        """Stops the server by its PID (SIGTERM) and returns everything it wrote."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=STARTUP_SECONDS)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._reader.join(timeout=10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return "".join(self.output())
