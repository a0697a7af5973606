"""Issue 4 figures over HTTP: polling an unchanged plan's feed against a hello-world route.

The app runs the way production runs it (bench.served: gunicorn with deploy/gunicorn.conf.py,
whose sync workers close the connection after each answer) on a SQLite file, and the same server
answers `/bench/hello`. One `http.client` connection (it reconnects whenever the server closes
it) sends every request and reads each body whole; the endpoints take turns in every round, so
drift and the neighbours' load hit them alike. The client asks for gzip, as calendar clients do.
"""

from __future__ import annotations

import http.client
import statistics
import time
from collections.abc import Mapping

from bench.hello import HELLO_PATH
from bench.measure import Result, result
from bench.served import served

CLIENT = {"User-Agent": "leanplan-bench", "Accept-Encoding": "gzip"}
WARM_ROUNDS = 5


def polling_figures(
    database_url: str, feed_path: str, size: int, *, rounds: int = 60, requests: int = 20
) -> dict[str, Result]:
    """Median time per request for the feed (200 and 304) and for hello, on one server; also the
    whole feed to a client that does not ask for gzip (`size` milestones), which has no target.

    Each round sends `requests` requests to each endpoint in turn; the figure is the median over
    the rounds, after WARM_ROUNDS that warm both workers up.
    """
    with served(database_url) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        etag = _get(connection, feed_path, CLIENT, 200).getheader("ETag")
        assert etag, "the feed sent no ETag"
        identity = {"User-Agent": CLIENT["User-Agent"]}
        endpoints = {
            "hello": (HELLO_PATH, CLIENT, 200),
            "hit": (feed_path, CLIENT, 200),
            "304": (feed_path, CLIENT | {"If-None-Match": etag}, 304),
            "identity": (feed_path, identity, 200),
        }
        times: dict[str, list[float]] = {name: [] for name in endpoints}
        for warm in [True] * WARM_ROUNDS + [False] * rounds:
            for name, (path, headers, status) in endpoints.items():
                started = time.perf_counter()
                for _ in range(requests):
                    _get(connection, path, headers, status)
                if not warm:
                    times[name].append((time.perf_counter() - started) / requests)
        connection.close()
    hello, hit, not_modified, plain = (statistics.median(times[name]) * 1e6 for name in endpoints)
    return {
        "feed_cache_hit_vs_hello": result(hit, "µs", floor=hello, target="<= 1.5"),
        "feed_304_vs_hello": result(not_modified, "µs", floor=hello, target="<= 1.5"),
        f"feed_cache_hit_without_gzip_{size}_vs_hello": result(plain, "µs", floor=hello),
    }


def _get(
    connection: http.client.HTTPConnection, path: str, headers: Mapping[str, str], status: int
) -> http.client.HTTPResponse:
    connection.request("GET", path, headers=dict(headers))
    response = connection.getresponse()
    response.read()
    if response.status != status:
        raise RuntimeError(f"GET {path.split('/')[1]}: {response.status}, expected {status}")
    return response
