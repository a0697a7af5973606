"""The HTTP client's retry rules, against a scripted local server: backoff with jitter, Retry-After
honoured, 401/403 never retried, a WebDAV precondition 403 not taken for a refused password."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from adapters.caldav_http import (
    AuthenticationFailed,
    DavSession,
    ProtocolError,
    RetryPolicy,
    SyncTokenExpired,
    TransientFailure,
)

DROP = 0
"""A scripted answer that closes the connection instead."""


class Script:
    """Answers in order: (status, headers, body) per request; the last one repeats."""

    def __init__(self) -> None:
        self.answers: list[tuple[int, dict[str, str], bytes]] = []
        self.seen = 0


@pytest.fixture
def scripted() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, body = script.answers[min(script.seen, len(script.answers) - 1)]
            script.seen += 1
            if status == DROP:
                self.close_connection = True
                return
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_REPORT = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cal/", script
    server.shutdown()
    server.server_close()


def _session(url: str, sleeps: list[float], attempts: int = 5) -> DavSession:
    policy = RetryPolicy(attempts=attempts, base_seconds=0.1, max_seconds=1.0, max_retry_after=30)
    return DavSession(url, "ann", "pw", retry=policy, sleep=sleeps.append)


def test_5xx_and_429_are_retried_with_growing_jittered_waits(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [
        (503, {}, b""),
        (502, {}, b""),
        (429, {}, b""),
        (500, {}, b""),
        (200, {}, b"ok"),
    ]
    sleeps: list[float] = []
    with _session(url, sleeps) as session:
        response = session.get("x.ics")
    assert (response.status, response.body) == (200, b"ok")
    assert len(sleeps) == 4
    for attempt, slept in enumerate(sleeps):
        assert 0 <= slept <= min(1.0, 0.1 * 2**attempt)


def test_retry_after_is_honoured_in_seconds_and_as_a_date(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [
        (503, {"Retry-After": "3"}, b""),
        (429, {"Retry-After": "Wed, 21 Oct 2099 07:28:00 GMT"}, b""),
    ]
    sleeps: list[float] = []
    with _session(url, sleeps) as session, pytest.raises(TransientFailure) as failure:
        session.get("x.ics")
    assert sleeps == [pytest.approx(3, abs=1.1)]
    assert failure.value.retry_after is not None and failure.value.retry_after > 30


def test_refused_credentials_are_not_retried(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(401, {"WWW-Authenticate": 'Basic realm="x"'}, b"")]
    with _session(url, []) as session, pytest.raises(AuthenticationFailed):
        session.get("x.ics")
    assert script.seen == 1
    script.answers, script.seen = [(403, {}, b"forbidden")], 0
    with _session(url, []) as session, pytest.raises(AuthenticationFailed):
        session.get("x.ics")
    assert script.seen == 1


def test_a_precondition_403_is_about_the_request_not_the_password(
    scripted: tuple[str, Script],
) -> None:
    url, script = scripted
    body = b'<?xml version="1.0"?><error xmlns="DAV:"><valid-sync-token/></error>'
    script.answers = [(403, {"Content-Type": "text/xml"}, body)]
    with _session(url, []) as session, pytest.raises(SyncTokenExpired):
        session.sync_collection("http://old/token")


def test_a_dropped_connection_is_retried(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    script.answers = [(DROP, {}, b""), (DROP, {}, b""), (201, {"ETag": '"1"'}, b"")]
    sleeps: list[float] = []
    with _session(url, sleeps) as session:
        assert session.put("x.ics", b"body", etag=None).etag == '"1"'
    assert session.counter.by_method == {"PUT": 3}
    assert len(sleeps) == 2


def test_entities_in_server_xml_are_refused(scripted: tuple[str, Script]) -> None:
    url, script = scripted
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><multistatus xmlns="DAV:"/>'
    script.answers = [(207, {}, bomb)]
    with _session(url, []) as session, pytest.raises(ProtocolError, match="entities"):
        session.sync_collection(None)
