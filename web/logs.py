"""Log lines for machines or for people: one JSON object per line, or plain text.

`LEANPLAN_LOG_FORMAT` is `json` or `text`; `leanplan serve` (and gunicorn run with
`GunicornLogger`) defaults to JSON, the other commands to text. Every line passes through one
handler on the root logger, so whatever logged it (the app, gunicorn, a library):
- it carries the id of the request being handled, when there is one (`bind_request_id`);
- a feed's path, which is the feed's password, is masked (web.feeds.MaskFeedTokens).

gunicorn's own access log is switched off: the app writes one line per request instead
(web.ops), naming the route template rather than the path, so no feed token reaches it, and no
header (Authorization, Cookie) is ever written.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Mapping
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TextIO

from gunicorn.config import Config
from gunicorn.glogging import Logger

from adapters.store import ConfigurationError
from web.feeds import MaskFeedTokens

LOG_FORMAT_ENV = "LEANPLAN_LOG_FORMAT"
REQUEST_FIELDS = ("request_id", "method", "route", "status", "duration_ms")
"""What a line may carry besides the message; nothing else a record holds is written."""

_request_id: ContextVar[str | None] = ContextVar("leanplan_request_id", default=None)


class LogFormat(Enum):
    JSON = "json"
    TEXT = "text"


def log_format(environ: Mapping[str, str], default: LogFormat) -> LogFormat:
    """`LEANPLAN_LOG_FORMAT` from `environ`, else `default`; a typo is a configuration error."""
    text = environ.get(LOG_FORMAT_ENV, "").strip().lower()
    if not text:
        return default
    try:
        return LogFormat(text)
    except ValueError:
        raise ConfigurationError(f"{LOG_FORMAT_ENV}: use json or text, not {text!r}") from None


def bind_request_id(request_id: str) -> Token[str | None]:
    """Attaches `request_id` to every line logged in this context until `unbind_request_id`."""
    return _request_id.set(request_id)


def unbind_request_id(token: Token[str | None]) -> None:
    _request_id.reset(token)


class RequestContext(logging.Filter):
    """Puts the current request's id on the record (`-` outside a request, for text lines)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """time, level, logger, message, pid, the request fields present, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        for name in REQUEST_FIELDS:
            value = getattr(record, name, None)
            if value is not None and value != "-":
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_handler(fmt: LogFormat, stream: TextIO) -> logging.Handler:
    """The one handler every line goes through, writing to `stream`."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        JsonFormatter() if fmt is LogFormat.JSON else logging.Formatter(TEXT_FORMAT)
    )
    handler.addFilter(RequestContext())
    handler.addFilter(MaskFeedTokens())
    return handler


def configure_logging(fmt: LogFormat, level: int = logging.INFO, *, replace: bool = True) -> None:
    """Sends every log line, gunicorn's included, through one handler on stderr.

    Replaces the root logger's handlers, so calling it again (gunicorn reconfigures on SIGHUP)
    never doubles a line; with `replace=False` it leaves alone a root logger that has some, as
    `logging.basicConfig` does (a command run inside a test keeps the test's capture). Python
    warnings become log lines too, so stderr holds nothing else.
    """
    root = logging.getLogger()
    if root.handlers and not replace:
        return
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(log_handler(fmt, sys.stderr))
    root.setLevel(level)
    errors = logging.getLogger("gunicorn.error")
    for old in errors.handlers[:]:
        errors.removeHandler(old)
    errors.propagate = True
    access = logging.getLogger("gunicorn.access")
    for old in access.handlers[:]:
        access.removeHandler(old)
    access.addHandler(logging.NullHandler())
    access.propagate = False
    logging.captureWarnings(True)


class GunicornLogger(Logger):  # type: ignore[misc]
    """gunicorn's `logger_class`: its lines in our format, through our handler; no access log."""

    def setup(self, cfg: Config) -> None:
        super().setup(cfg)
        configure_logging(log_format(os.environ, LogFormat.JSON), self.loglevel)
