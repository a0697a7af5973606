"""The web app as it is served, plus a hello-world route: the floor for server-side figures.

Benchmarks compare an endpoint with `/bench/hello` in the same process, so the cost of the
server, Flask and the loopback is in both and the ratio shows what leanplan itself adds. The route
exists only in this benchmark app, never in the product. Under gunicorn:
`gunicorn 'bench.hello:create_bench_app()'`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from web import create_app

HELLO_PATH = "/bench/hello"


def create_bench_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = create_app(config)
    app.add_url_rule(HELLO_PATH, "bench_hello", lambda: "hello, world")
    return app
