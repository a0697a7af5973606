"""Runs the web app under gunicorn, a production WSGI server, bound to this machine by default.

Each worker process builds its own app after the fork: database connections must not be shared
across processes. The store is opened once beforehand so a bad DATABASE_URL or an unreachable
database stops the server at once with one message, instead of making every worker fail to boot.
"""

from __future__ import annotations

import logging
import os
import secrets
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from adapters.bootstrap import open_leanplan
from web import create_app
from web.gunicorn_settings import gunicorn_options
from web.logs import LogFormat, configure_logging, log_format
from web.shared_metrics import shared_metrics

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SECRET_KEY_ENV = "LEANPLAN_SECRET_KEY"


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn configured from a dict rather than its command line."""

    def __init__(self, config: dict[str, Any], options: dict[str, Any]) -> None:
        self._config = config
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app(self._config)


def serve(
    host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, database_url: str | None = None
) -> None:
    """Serve until stopped (SIGINT or SIGTERM), with web.gunicorn_settings (WEB_CONCURRENCY
    workers, default 2), the settings deploy/gunicorn.conf.py uses too."""
    options = gunicorn_options(os.environ, bind=f"{host}:{port}")
    configure_logging(log_format(os.environ, LogFormat.JSON))
    open_leanplan(database_url).close()
    secret_key = os.environ.get(SECRET_KEY_ENV, "").strip()
    if not secret_key:
        # Workers must agree on the key, or a session signed by one is refused by the other.
        log.warning("%s is not set: sessions end when the server stops", SECRET_KEY_ENV)
        secret_key = secrets.token_urlsafe(48)
    config = {"DATABASE_URL": database_url, "SECRET_KEY": secret_key}
    with shared_metrics():  # before any worker imports prometheus-client
        _Gunicorn(config, options).run()
