"""Issue 6 figures: load on loopback, with wrk, against gunicorn serving the app on PostgreSQL.

The bench app is served as production serves leanplan (bench.served: gunicorn with
deploy/gunicorn.conf.py, so WEB_CONCURRENCY sync workers, two unless set, and the app's own
request log) on a fresh PostgreSQL database holding the demo plan grown to 1,000 generated
milestones. wrk (Debian's; `make bench` installs it with .ci/install-wrk) loads one endpoint at
a time over four connections:

- `hello`: `/bench/hello`, the floor: gunicorn, Flask and the loopback, and nothing of leanplan;
- `feed_200`: the plan's feed, whole (no conditional header, so every answer is the full body,
  gzipped as calendar clients ask for it);
- `feed_304`: the same feed with `If-None-Match` on its ETag, as a polling client sends it;
- `history`: the first page (50 entries) of the plan's history with a bearer token.

Endpoints take turns within each round, so drift and the neighbours' load hit them alike, with a
pause between runs for the server to finish what the last run left in flight; each figure is the
median of the rounds after a warm-up round. Requests/s of each endpoint is reported
against hello's (a ratio below 1: the share of hello's throughput it keeps), and p99 latency
against hello's p99 (above 1: how much longer its slow tail is). The issue sets no targets;
the ones here are ours: a 304 is an ETag comparison over a kept answer and should keep at least
half of hello's throughput; a full 1,000-milestone feed (a kept, gzipped body) and a history page
(a query and decoding 50 events) at least a fifth.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from adapters.bootstrap import open_leanplan
from adapters.credentials import register_user
from adapters.demo import load_demo
from adapters.feeds import create_feed
from adapters.progress import Progress
from bench.foundation import store
from bench.hello import HELLO_PATH
from bench.measure import Result, result
from bench.served import served

CONNECTIONS = 4
DRAIN_SECONDS = 1.0
"""A pause between runs: requests wrk left in flight are served before the next run starts,
so they do not count in its latency."""
USER = "bench"
_REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.6f, "p99_us": %d, "socket_errors": %d, "http_errors": %d}\\n',
    summary.requests, summary.duration / 1e6, latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""
"""wrk's summary as one JSON line; `http_errors` counts answers with a status of 400 or more."""


@dataclass(frozen=True)
class Endpoint:
    name: str
    path: str
    headers: Mapping[str, str]
    status: int


@dataclass(frozen=True)
class Run:
    rps: float
    p99_ms: float


def run(quick: bool = False) -> dict[str, Result]:
    size, rounds, seconds = (100, 1, 2) if quick else (1_000, 5, 4)
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is missing: run .ci/install-wrk (make bench does)")
    with store("postgres") as database_url, tempfile.TemporaryDirectory() as folder:
        token, plan_id, feed = _demo(database_url, size)
        script = Path(folder) / "report.lua"
        script.write_text(_REPORT)
        with served(database_url) as port:
            endpoints = _endpoints(port, token, plan_id, feed)
            runs: dict[str, list[Run]] = {e.name: [] for e in endpoints}
            for round_ in range(rounds + 1):  # the first round warms every worker up
                for endpoint in endpoints:
                    measured = _wrk(wrk, script, port, endpoint, seconds if round_ else 1)
                    if round_:
                        runs[endpoint.name].append(measured)
                    time.sleep(DRAIN_SECONDS)
    return _figures(runs, size)


def _demo(database_url: str, size: int) -> tuple[str, str, str]:
    """The demo plan with `size` generated milestones, owned by a user; its token, id and feed."""
    app = open_leanplan(database_url, environ={})
    try:
        token = register_user(app, USER, email="bench@example.com", actor=USER)
        with open(os.devnull, "w") as quiet:
            plan_id = load_demo(
                app, actor=USER, size=size, progress=lambda label, total: Progress(label, total, quiet)
            )
        feed = create_feed(app, plan_id, "bench", actor=USER).token
    finally:
        app.close()
    return token, str(plan_id), feed


def _endpoints(port: int, token: str, plan_id: str, feed: str) -> list[Endpoint]:
    """The four endpoints, each checked once to answer as the run expects."""
    gzip = {"Accept-Encoding": "gzip"}
    feed_path = f"/feeds/{feed}.ics"
    etag = _get(port, feed_path, gzip, 200).getheader("ETag")
    if not etag:
        raise RuntimeError("the feed sent no ETag")
    endpoints = [
        Endpoint("hello", HELLO_PATH, {}, 200),
        Endpoint("feed_200", feed_path, gzip, 200),
        Endpoint("feed_304", feed_path, gzip | {"If-None-Match": etag}, 304),
        Endpoint(
            "history", f"/api/v1/plans/{plan_id}/history", {"Authorization": f"Bearer {token}"}, 200
        ),
    ]
    for endpoint in endpoints:
        _get(port, endpoint.path, endpoint.headers, endpoint.status)
    return endpoints


def _get(
    port: int, path: str, headers: Mapping[str, str], status: int
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=dict(headers))
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    if response.status != status:
        raise RuntimeError(f"GET {path.split('/')[1]}: HTTP {response.status}, expected {status}")
    return response


def _wrk(wrk: str, script: Path, port: int, endpoint: Endpoint, seconds: int) -> Run:
    command = [
        wrk, "--threads", "1", "--connections", str(CONNECTIONS), "--duration", f"{seconds}s",
        "--timeout", "10s", "--script", str(script),
    ]  # fmt: skip
    for key, value in endpoint.headers.items():
        command += ["--header", f"{key}: {value}"]
    command.append(f"http://127.0.0.1:{port}{endpoint.path}")
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    summary = json.loads(output.strip().splitlines()[-1])
    if summary["http_errors"] or summary["socket_errors"] > summary["requests"] // 100:
        raise RuntimeError(f"wrk on {endpoint.name}: {summary}")
    return Run(summary["requests"] / summary["seconds"], summary["p99_us"] / 1e3)


def _figures(runs: dict[str, list[Run]], size: int) -> dict[str, Result]:
    rps = {name: statistics.median(r.rps for r in measured) for name, measured in runs.items()}
    p99 = {name: statistics.median(r.p99_ms for r in measured) for name, measured in runs.items()}
    suffix = "" if size == 1_000 else f"_{size}"
    targets = {"feed_200": ">= 0.2", "feed_304": ">= 0.5", "history": ">= 0.2"}
    results = {
        "load_hello_rps": result(rps["hello"], "req/s"),
        "load_hello_p99": result(p99["hello"], "ms"),
    }
    for name, target in targets.items():
        results[f"load_{name}{suffix}_rps_vs_hello"] = result(
            rps[name], "req/s", floor=rps["hello"], target=target
        )
        results[f"load_{name}{suffix}_p99_vs_hello"] = result(
            p99[name], "ms", floor=p99["hello"]
        )
    return results
