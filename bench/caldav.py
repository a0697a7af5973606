"""Issue 5 figures: the CalDAV sync worker against raw HTTP doing the same writes.

- Initial push of 1,000 milestones (and the review series) by `CalendarSync.sync_once`, against
  a raw `http.client` loop PUTting the very same bodies with `If-None-Match: *` on one
  keep-alive connection — (a) into Radicale, where Radicale's own per-item cost dominates, as
  throughput; (b) into a null server (a subprocess that answers every request and stores
  nothing), which leaves only the client's own cost, as time.
- Requests for a sync after one milestone changed, and for a sync with nothing changed; the
  idle sync's response size at 1,000 items against 10 (sync tokens: it must not grow); and the
  idle sync's wall time against one raw sync-collection REPORT to the same server.

Radicale and the null server run as subprocesses on free ports and are stopped by PID.
"""

from __future__ import annotations

import http.client
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from uuid import UUID, uuid4

from adapters.bootstrap import open_leanplan
from adapters.caldav_content import resource_name
from adapters.caldav_state import SideDatabase, SyncState
from adapters.caldav_sync import CalendarSync, SyncSettings
from adapters.progress import Progress
from adapters.secrets import LinkSecrets, cipher
from bench.measure import Result, result
from domain.application import Leanplan
from domain.values import Person

OWNER = Person("Ann Lee", "ann@example.com")
KEY = "bench-secret-key"
SYNC_BODY = (
    '<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:">'
    "<d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level>"
    "<d:prop><d:getetag/></d:prop></d:sync-collection>"
)


def run(quick: bool = False) -> dict[str, Result]:
    size, repeat = (200, 1) if quick else (1_000, 3)
    results: dict[str, Result] = {}
    with (
        tempfile.TemporaryDirectory() as folder,
        _server(_radicale_command(Path(folder))) as radicale,
        _server([sys.executable, "-m", "bench.caldav", "--serve-null"]) as null,
    ):
        bench = _Bench(Path(folder), size)
        ours, raw = bench.initial_push(radicale, repeat)
        results[f"caldav_initial_push_{size}_radicale_vs_raw_put"] = result(
            size / ours, "items/s", floor=size / raw, target=">= 0.9"
        )
        ours, raw = bench.initial_push(null, repeat + 2)
        results[f"caldav_initial_push_{size}_null_server_vs_raw_put"] = result(
            ours * 1e3, "ms", floor=raw * 1e3, target="<= 3"
        )
        results.update(bench.steady_state(radicale))
    return results


class _Bench:
    def __init__(self, folder: Path, size: int) -> None:
        self.size = size
        self.app: Leanplan = open_leanplan(f"sqlite:///{folder / 'bench.sqlite3'}", environ={})
        database = SideDatabase(self.app)
        self.secrets = LinkSecrets(database, cipher(KEY))
        self.worker = CalendarSync(
            self.app, secrets=self.secrets, settings=SyncSettings(base_url="https://plans.example.org"),
            state=SyncState(database), progress=lambda label, total: Progress(label, total, io.StringIO()),
        )  # fmt: skip
        self.plan_id = _plan(self.app, size)
        self.previous: UUID | None = None

    def link(self, port: int, name: str, plan_id: UUID | None = None) -> UUID:
        """A new link to a new calendar; the last one is retired first, outside any timing."""
        if self.previous is not None:
            self.app.unlink_calendar(self.plan_id, self.previous, remove_items=False, actor="bench")
            self.worker.sync_once(pull=False)
        url = f"http://127.0.0.1:{port}/bench/{name}/"
        _request(port, "MKCOL", "/bench/")
        _request(port, "MKCALENDAR", f"/bench/{name}/")
        link_id = uuid4()
        self.secrets.put(link_id, "")
        self.app.link_calendar(
            plan_id or self.plan_id, name, url=url, user="bench", actor="bench", link_id=link_id
        )
        self.worker.follow()
        self.previous = link_id
        return link_id

    def bodies(self, link_id: UUID) -> list[tuple[str, bytes]]:
        view = self.app.plan(self.plan_id)
        link = view.plan.calendar_link(link_id)
        wanted = self.worker.renderer.wanted(view, link, self.worker.clock())
        return [(resource_name(uid), want.body) for uid, want in wanted.items()]

    def initial_push(self, port: int, repeat: int) -> tuple[float, float]:
        """Median seconds of the worker's first pass and of the raw PUT loop, alternating."""
        self.worker.sync_once()  # warm: the plan's view and the rendered objects are kept
        ours, raw = [], []
        for _ in range(repeat + 1):
            link_id = self.link(port, f"w{uuid4().hex[:8]}")
            started = time.perf_counter()
            report = self.worker.sync_once()
            ours.append(time.perf_counter() - started)
            assert report.written == self.size + 1 and not report.failed, report
            bodies = self.bodies(link_id)
            name = f"r{uuid4().hex[:8]}"
            _request(port, "MKCALENDAR", f"/bench/{name}/")
            raw.append(_raw_put_loop(port, f"/bench/{name}/", bodies))
        return statistics.median(ours[1:]), statistics.median(raw[1:])

    def steady_state(self, port: int) -> dict[str, Result]:
        results: dict[str, Result] = {}
        counter = self.worker.counter
        link_id = self.link(port, f"s{uuid4().hex[:8]}")
        for _ in range(3):  # the first push, then the echo of our own writes
            self.worker.sync_once()
        milestone = self.app.milestone_ids(self.plan_id)[0]
        self.app.reschedule(milestone, date(2035, 1, 1), reason="bench", actor="bench")
        sent = counter.total
        self.worker.sync_once()
        results["caldav_sync_after_one_change_requests"] = result(
            counter.total - sent, "requests", target="<= 2"
        )
        self.worker.sync_once()  # the echo of that one write
        sent, received = counter.total, counter.received_bytes
        self.worker.sync_once()
        results["caldav_idle_sync_requests"] = result(
            counter.total - sent, "requests", target="<= 1"
        )
        large = counter.received_bytes - received
        times = []
        for _ in range(9):
            started = time.perf_counter()
            self.worker.sync_once()
            times.append(time.perf_counter() - started)
        state = self.worker.state.link(link_id)
        assert state is not None and state.sync_token
        floor = statistics.median(_raw_report(port, state.url, state.sync_token) for _ in range(9))
        results[f"caldav_idle_sync_{self.size}_wall_vs_raw_report"] = result(
            statistics.median(times) * 1e3, "ms", floor=floor * 1e3, target="<= 3"
        )
        small_plan = _plan(self.app, 10)
        small = self.link(port, f"t{uuid4().hex[:8]}", small_plan)
        self.previous = None
        for _ in range(3):
            self.worker.sync_once()
        received = counter.received_bytes
        self.worker.sync_once()
        results[f"caldav_idle_sync_response_{self.size}_vs_10_items"] = result(
            large, "bytes", floor=counter.received_bytes - received, target="<= 1.1"
        )
        del small
        return results


def _plan(app: Leanplan, size: int) -> UUID:
    plan_id = app.start_plan("Bench", actor="bench", timezone="Europe/Berlin")
    for n in range(size):
        app.add_milestone(
            plan_id, title=f"Milestone {n}", kind="implementation", due=date(2031, 1, 1) + timedelta(days=n % 700),
            budget="100", owner=OWNER, actor="bench", description="Agree the scope with the pilot customers.",
        )  # fmt: skip
    app.plan(plan_id)
    return plan_id


def _raw_put_loop(port: int, path: str, bodies: list[tuple[str, bytes]]) -> float:
    """The floor: the same bodies, one keep-alive connection, headers built once."""
    headers = {"Content-Type": "text/calendar; charset=utf-8", "If-None-Match": "*"}
    connection = http.client.HTTPConnection("127.0.0.1", port)
    started = time.perf_counter()
    for name, body in bodies:
        connection.request("PUT", path + name, body, headers)
        response = connection.getresponse()
        response.read()
        assert response.status == 201, response.status
    elapsed = time.perf_counter() - started
    connection.close()
    return elapsed


def _raw_report(port: int, url: str, token: str) -> float:
    path = url.split(str(port), 1)[1]
    body = SYNC_BODY.format(token=token).encode()
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("REPORT", path, body, {"Depth": "1", "Content-Type": "application/xml"})
    response = connection.getresponse()
    response.read()
    connection.close()
    assert response.status == 207, response.status
    return time.perf_counter() - started


def _request(port: int, method: str, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request(method, path)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _radicale_command(folder: Path) -> list[str]:
    return [
        sys.executable, "-m", "radicale", "--config", "", "--auth-type", "none",
        "--storage-filesystem-folder", str(folder / "radicale"), "--logging-level", "warning",
        "--server-hosts",
    ]  # fmt: skip


@contextmanager
def _server(command: list[str]) -> Iterator[int]:
    """Starts a server subprocess on a free port (appended to the command); stops it by PID."""
    port = _free_port()
    address = f"127.0.0.1:{port}" if "radicale" in command else str(port)
    process = subprocess.Popen(
        [*command, address], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"{command[2]} did not start") from None
                time.sleep(0.05)
        yield port
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=10)


class _Null(BaseHTTPRequestHandler):
    """Answers everything as a CalDAV server would, remembering nothing."""

    protocol_version = "HTTP/1.1"
    _multistatus = (
        b'<?xml version="1.0" encoding="utf-8"?><multistatus xmlns="DAV:">'
        b"<sync-token>http://null/sync/1</sync-token></multistatus>"
    )

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.command in ("REPORT", "PROPFIND"):
            status, body = 207, self._multistatus
        elif self.command == "GET":
            status, body = 404, b""
        else:
            status, body = 201, b""
        self.send_response_only(status)
        self.send_header("ETag", '"null"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_GET = do_DELETE = do_REPORT = do_PROPFIND = do_MKCOL = do_MKCALENDAR = _answer


def serve_null(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Null)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        server.server_close()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-null"]:
        serve_null(int(sys.argv[2]))
    else:
        for name, record in run(quick="--quick" in sys.argv).items():
            print(f"{name:58} {record}")
