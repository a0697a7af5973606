"""The gunicorn settings of `leanplan serve` and of deploy/gunicorn.conf.py: one set, so the
container, a plain `gunicorn -c` and a developer's server behave alike.

gunicorn's own lines go through web.logs.GunicornLogger (JSON unless LEANPLAN_LOG_FORMAT=text)
and it writes no access log: the app logs each request itself (web.ops), naming the route
template rather than the path, so no feed token, query string or header reaches a log line.
`child_exit` keeps the workers' shared metrics tidy (web.shared_metrics).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.config import FORWARDED_ALLOW_IPS, WEB_CONCURRENCY
from web.logs import GunicornLogger
from web.shared_metrics import child_exit

DEFAULT_BIND = "127.0.0.1:8000"
TIMEOUT_SECONDS = 30
"""A worker silent this long is killed and replaced; every request finishes far sooner."""
GRACEFUL_TIMEOUT_SECONDS = 30
"""On SIGTERM, requests in flight get this long; compose's stop_grace_period is longer."""
KEEPALIVE_SECONDS = 5
"""Longer than gunicorn's 2 s, as a proxy in front reuses its connections."""
_SHARED_MEMORY = Path("/dev/shm")


def gunicorn_options(environ: Mapping[str, str], bind: str = DEFAULT_BIND) -> dict[str, Any]:
    """gunicorn's settings by name; raises ConfigurationError for a bad WEB_CONCURRENCY or
    FORWARDED_ALLOW_IPS."""
    options: dict[str, Any] = {
        "bind": bind,
        "workers": WEB_CONCURRENCY.value(environ),
        "timeout": TIMEOUT_SECONDS,
        "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
        "keepalive": KEEPALIVE_SECONDS,
        "forwarded_allow_ips": ",".join(FORWARDED_ALLOW_IPS.value(environ)),
        "accesslog": None,
        "errorlog": "-",
        "logger_class": GunicornLogger,
        "child_exit": child_exit,
        "proc_name": "leanplan",
        # gunicorn 27 opens a control socket at one path per user: a second server would clash.
        "control_socket_disable": True,
    }
    if _SHARED_MEMORY.is_dir() and os.access(_SHARED_MEMORY, os.W_OK):
        # Workers touch a heartbeat file; on a container's overlay disk that can stall them.
        options["worker_tmp_dir"] = str(_SHARED_MEMORY)
    return options
