"""Metrics shared by gunicorn's workers: prometheus-client's multiprocess mode.

Each worker counts requests in its own memory, so a scrape answered by one worker would show a
fraction of the truth. In multiprocess mode every worker writes its counts to files in
`PROMETHEUS_MULTIPROC_DIR`, and a scrape sums them (web.metrics). The directory must be set
before the first worker imports prometheus-client, which picks its mode on import, and must
start empty: `leanplan serve` makes a fresh one per server when it is not set and removes it on
exit; a directory given in the environment is created if missing and cleared of a previous
run's counts, which would otherwise add to this one's. Two servers must not share one.

gunicorn started from its own command line (deploy/gunicorn.conf.py) takes `child_exit` from
web.gunicorn_settings and enters `shared_metrics` in its `on_starting` hook, which runs before
any worker loads the app; `preload_app` must stay off there, as it loads the app (and so
prometheus-client) in the master before that hook.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_COUNT_FILE = re.compile(r"(counter|histogram|summary|gauge_\w+)_\d+\.db")
"""The names prometheus-client gives its files; nothing else in the directory is touched."""


@contextmanager
def shared_metrics(environ: MutableMapping[str, str] = os.environ) -> Iterator[Path]:
    """Sets up PROMETHEUS_MULTIPROC_DIR for the workers started inside the block."""
    given = environ.get(MULTIPROC_ENV, "").strip()
    if given:
        directory = Path(given)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.iterdir():
            if _COUNT_FILE.fullmatch(stale.name):
                stale.unlink()
        yield directory
        return
    if "prometheus_client" in sys.modules:  # its mode is fixed: workers would count alone
        raise RuntimeError("prometheus-client was imported before PROMETHEUS_MULTIPROC_DIR was set")
    directory = Path(tempfile.mkdtemp(prefix="leanplan-metrics-"))
    environ[MULTIPROC_ENV] = str(directory)
    try:
        yield directory
    finally:
        del environ[MULTIPROC_ENV]
        shutil.rmtree(directory, ignore_errors=True)


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's hook in the master when a worker exits: drop its live gauges' files (its
    counts stay, so totals never go backwards)."""
    # Imported here: this module is imported before the directory is set, and prometheus-client
    # picks its mode when first imported.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
