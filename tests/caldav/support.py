"""A real Radicale in a subprocess, a fault-injecting counting proxy, and a small CalDAV client
that plays the part of someone's calendar app (reading and editing objects over plain HTTP)."""

from __future__ import annotations

import base64
import http.client
import os
import random
import re
import signal
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from adapters.caldav_content import parse_object


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port}")


class Radicale:
    """`python -m radicale` on a free port with its own storage folder; stopped by PID."""

    def __init__(self, folder: Path, *, htpasswd: Path | None = None) -> None:
        self.port = free_port()
        self.folder = folder
        auth = ["--auth-type", "none"]
        if htpasswd is not None:
            auth = [
                "--auth-type", "htpasswd", "--auth-htpasswd-filename", str(htpasswd),
                "--auth-htpasswd-encryption", "plain", "--auth-delay", "0",
            ]  # fmt: skip
        self.log = (folder / "radicale.log").open("wb")
        self.process = subprocess.Popen(
            [
                sys.executable, "-m", "radicale", "--config", "",
                "--server-hosts", f"127.0.0.1:{self.port}",
                "--storage-filesystem-folder", str(folder / "storage"),
                "--logging-level", "warning", *auth,
            ],
            stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.log.close()


@dataclass
class Faults:
    """What the proxy does to requests: fail a share of them, in one of three ways."""

    rate: float = 0.0
    kinds: tuple[str, ...] = ("503", "drop_before", "drop_after")
    seed: int = 1234
    rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)


@dataclass(frozen=True)
class Exchange:
    """One request that reached the upstream server, and its answer's status."""

    method: str
    path: str
    status: int
    body: bytes


class Proxy:
    """An HTTP proxy on 127.0.0.1 in front of one upstream: counts requests by method, logs each
    one the server answered and, when told, answers 503 or drops the connection before or after
    forwarding, or holds a request in `gate` until the test lets it through."""

    def __init__(
        self, upstream_port: int, faults: Faults | None = None, refuse: frozenset[str] = frozenset()
    ) -> None:
        self.upstream_port = upstream_port
        self.faults = faults or Faults()
        self.refuse = refuse
        """Methods answered 501, as by a server without them."""
        self.hostile: dict[str, bytes] = {}
        """Bodies served instead of the real one to a GET of a path ending so."""
        self.counts: Counter[str] = Counter()
        self.response_bytes: list[tuple[str, int]] = []
        self.failed: Counter[str] = Counter()
        self.exchanges: list[Exchange] = []
        self.gate: Callable[[str, str], None] | None = None
        """Called with the method and path before a request is forwarded; may block it there."""
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                with proxy._lock:
                    proxy.counts[self.command] += 1
                    fault = None
                    if proxy.faults.rate and proxy.faults.rng.random() < proxy.faults.rate:
                        fault = proxy.faults.rng.choice(proxy.faults.kinds)
                        proxy.failed[fault] += 1
                if self.command in proxy.refuse:
                    self.send_response(501)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "503":
                    self.send_response(503)
                    self.send_header("Retry-After", "0")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if fault == "drop_before":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if proxy.gate is not None:
                    proxy.gate(self.command, self.path)
                upstream = http.client.HTTPConnection("127.0.0.1", proxy.upstream_port, timeout=30)
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")
                }
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                content = answer.read()
                upstream.close()
                with proxy._lock:
                    proxy.exchanges.append(
                        Exchange(self.command, self.path, answer.status, body or b"")
                    )
                hostile = [body for end, body in proxy.hostile.items() if self.path.endswith(end)]
                if self.command == "GET" and hostile:
                    content = hostile[0]
                if fault == "drop_after":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                with proxy._lock:
                    proxy.response_bytes.append((self.command, len(content)))
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in (
                        "content-length",
                        "connection",
                        "transfer-encoding",
                        "date",
                        "server",
                    ):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_PUT = do_DELETE = do_REPORT = do_PROPFIND = do_MKCALENDAR = _forward
            do_MKCOL = do_OPTIONS = do_HEAD = do_PROPPATCH = _forward

        class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.response_bytes.clear()
            self.exchanges.clear()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class CalendarApp:
    """Someone's calendar app on the collection: lists, reads and edits objects over HTTP."""

    def __init__(self, collection_url: str, username: str = "ann", password: str = "") -> None:
        parts = urlsplit(collection_url)
        self.port = parts.port
        self.path = parts.path
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}"}

    def request(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request(
            method,
            path,
            body=body,
            headers=self.headers | {k.replace("_", "-"): v for k, v in headers.items()},
        )
        response = connection.getresponse()
        content = response.read()
        connection.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, content

    def create_collection(self) -> None:
        parent = self.path.rstrip("/").rsplit("/", 1)[0] + "/"
        self.request("MKCOL", parent)
        status, _, _ = self.request("MKCALENDAR", self.path)
        assert status == 201, status

    def names(self) -> dict[str, str]:
        """Every object's name and ETag."""
        body = b'<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>'
        status, _, content = self.request("PROPFIND", self.path, body, Depth="1")
        assert status == 207, status
        found = {}
        for response in re.findall(
            rb"<(?:\w+:)?response>(.*?)</(?:\w+:)?response>", content, re.DOTALL
        ):
            href = re.search(rb"<(?:\w+:)?href>([^<]*)</", response).group(1).decode()
            etag = re.search(rb"<(?:\w+:)?getetag>([^<]*)</", response)
            if href.rstrip("/") != self.path.rstrip("/"):
                found[href.rsplit("/", 1)[1]] = (
                    etag.group(1).decode().replace("&quot;", '"') if etag else ""
                )
        return found

    def get(self, name: str) -> tuple[bytes, str]:
        status, headers, content = self.request("GET", self.path + name)
        assert status == 200, (name, status)
        return content, headers["etag"]

    def put(self, name: str, body: bytes, etag: str | None = None) -> int:
        extra = {"If_Match": etag} if etag else {}
        status, _, _ = self.request(
            "PUT", self.path + name, body, Content_Type="text/calendar", **extra
        )
        return status

    def delete(self, name: str) -> int:
        return self.request("DELETE", self.path + name)[0]

    def edit(self, name: str, change: Callable[[str], str]) -> int:
        """What a calendar app does: fetch, change the text, write it back on the same ETag."""
        body, etag = self.get(name)
        return self.put(name, change(body.decode()).encode(), etag)

    def objects(self) -> dict[str, bytes]:
        return {name: self.get(name)[0] for name in self.names()}

    def uids(self) -> list[str]:
        return [parse_object(body).uid for body in self.objects().values()]


def move_all_day(text: str, new_day: str) -> str:
    """Drags an all-day event to another day, the way clients do: both dates, a new DTSTAMP,
    SEQUENCE raised, and a property of the client's own."""
    start = re.search(r"DTSTART;VALUE=DATE:(\d{8})", text).group(1)
    end = re.search(r"DTEND;VALUE=DATE:(\d{8})", text).group(1)
    old_start = date(int(start[:4]), int(start[4:6]), int(start[6:]))
    old_end = date(int(end[:4]), int(end[4:6]), int(end[6:]))
    new_start = date(int(new_day[:4]), int(new_day[4:6]), int(new_day[6:]))
    new_end = new_start + (old_end - old_start)
    text = text.replace(f"DTSTART;VALUE=DATE:{start}", f"DTSTART;VALUE=DATE:{new_day}")
    text = text.replace(f"DTEND;VALUE=DATE:{end}", f"DTEND;VALUE=DATE:{new_end:%Y%m%d}")
    text = re.sub(r"DTSTAMP:\d{8}T\d{6}Z", "DTSTAMP:20300101T000000Z", text)
    text = re.sub(r"SEQUENCE:(\d+)", lambda m: f"SEQUENCE:{int(m.group(1)) + 1}", text)
    return text.replace("END:VEVENT", "X-MOZ-GENERATION:2\nEND:VEVENT", 1)
