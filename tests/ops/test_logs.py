"""Log lines: one JSON object each, carrying the id of the request that caused them."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from adapters.store import ConfigurationError
from domain.application import Leanplan
from web import create_app
from web.logs import LogFormat, log_format, log_handler

HEX_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def logged_app(leanplan: Leanplan) -> Flask:
    """The app with one extra view that logs while handling its request."""
    app = create_app({"LEANPLAN_APP": leanplan, "SECRET_KEY": "logs-test"})

    def noisy() -> str:
        logging.getLogger("tests.ops.view").warning("working on it")
        return "done"

    app.add_url_rule("/noisy", view_func=noisy)
    return app


Lines = Callable[[], list[dict[str, Any]]]


@pytest.fixture
def json_lines(caplog: pytest.LogCaptureFixture) -> Iterator[Lines]:
    """Reads what the JSON handler has written so far, each line parsed."""
    stream = io.StringIO()
    handler = log_handler(LogFormat.JSON, stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with caplog.at_level(logging.INFO):
            yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)


def test_every_line_of_a_request_carries_the_id_it_echoes(
    logged_app: Flask, json_lines: Lines
) -> None:
    client = logged_app.test_client()
    given = client.get("/noisy", headers={"X-Request-ID": "proxy-7f3a.1"})
    made = client.get("/noisy")
    assert given.headers["X-Request-ID"] == "proxy-7f3a.1"
    assert HEX_ID.fullmatch(made.headers["X-Request-ID"])
    logging.getLogger("tests.ops").warning("outside any request")

    written = json_lines()
    for request_id in (given.headers["X-Request-ID"], made.headers["X-Request-ID"]):
        lines = [line for line in written if line.get("request_id") == request_id]
        assert [line["logger"] for line in lines] == ["tests.ops.view", "web.ops.requests"]
        view_line, request_line = lines
        assert view_line["message"] == "working on it" and view_line["level"] == "WARNING"
        assert request_line["method"] == "GET"
        assert request_line["route"] == "/noisy"
        assert request_line["status"] == 200
        assert isinstance(request_line["duration_ms"], float)
    outside = [line for line in written if line["message"] == "outside any request"]
    assert len(outside) == 1 and "request_id" not in outside[0]
    for line in written:
        assert {"time", "level", "logger", "message", "pid"} <= line.keys()


@pytest.mark.parametrize(
    "incoming", ["", "has space", "x" * 129, "<script>", "-leading-dash", "ünïcode"]
)
def test_a_malformed_request_id_is_replaced(logged_app: Flask, incoming: str) -> None:
    answer = logged_app.test_client().get("/healthz", headers={"X-Request-ID": incoming})
    assert HEX_ID.fullmatch(answer.headers["X-Request-ID"])


def test_each_request_gets_its_own_id(logged_app: Flask) -> None:
    client = logged_app.test_client()
    ids = {client.get("/healthz").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


def test_a_feed_path_is_masked_in_any_line(json_lines: Lines) -> None:
    logging.getLogger("some.library").warning("fetching %s", "/feeds/s3cr3t-t0ken.ics?x=1")
    assert [line["message"] for line in json_lines()] == ["fetching /feeds/<token>.ics?x=1"]


def test_an_exception_is_kept_inside_its_line(json_lines: Lines) -> None:
    try:
        raise ValueError("bad\nvalue")
    except ValueError:
        logging.getLogger("tests.ops").exception("it failed")
    (line,) = json_lines()
    assert line["level"] == "ERROR" and line["message"] == "it failed"
    assert "ValueError: bad\nvalue" in line["exception"]


def test_the_log_format_comes_from_the_environment() -> None:
    assert log_format({}, LogFormat.JSON) is LogFormat.JSON
    assert log_format({}, LogFormat.TEXT) is LogFormat.TEXT
    assert log_format({"LEANPLAN_LOG_FORMAT": " Text "}, LogFormat.JSON) is LogFormat.TEXT
    assert log_format({"LEANPLAN_LOG_FORMAT": "json"}, LogFormat.TEXT) is LogFormat.JSON
    with pytest.raises(ConfigurationError, match="LEANPLAN_LOG_FORMAT: use json or text"):
        log_format({"LEANPLAN_LOG_FORMAT": "xml"}, LogFormat.JSON)
