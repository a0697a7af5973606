"""The HTTP side of calendar sync: one keep-alive connection per link, retries, WebDAV reports.

Pushing 1,000 milestones is 1,000 PUTs, so the write path is plain `http.client` on one
persistent connection with headers prepared once — a high-level CalDAV call per item costs
several times more than the server needs (bench/caldav.py measures it). What CalDAV needs beyond
PUT/GET/DELETE is two reports: RFC 6578 `sync-collection` (what changed since a token) and, for
servers without it, a Depth 1 PROPFIND of ETags. Nothing here depends on one server's paths.

Failures: a dropped connection, a 5xx or a 429 is retried with exponential backoff and full
jitter, waiting at least what Retry-After asks (up to a bound: a longer wait is left to the
link's own schedule). 401 and 403 raise AuthenticationFailed at once: repeating a refused
password only locks accounts. Every response body is read with a size bound.
"""

from __future__ import annotations

import base64
import email.utils
import http.client
import logging
import random
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Self
from urllib.parse import unquote, urljoin, urlsplit

from adapters.caldav_content import MAX_OBJECT_BYTES

log = logging.getLogger(__name__)

MAX_REPORT_BYTES = 64 * 1024 * 1024
"""A listing of 100,000 hrefs and ETags is ~20 MB; anything larger is not a calendar."""
USER_AGENT = "leanplan-sync/1.0"
_DAV = "{DAV:}"
_FINAL_5XX = (501, 505)
"""Not implemented, version not supported: asking again gets the same answer."""


class DavError(Exception):
    """Base of everything a calendar server can do wrong."""


class AuthenticationFailed(DavError):
    """401 or 403: the link's credentials are refused; retrying soon would not help."""

    def __init__(self, status: int) -> None:
        super().__init__(f"the calendar server refused the credentials (HTTP {status})")
        self.status = status


class TransientFailure(DavError):
    """The server or network kept failing after every retry; `retry_after` if the server said."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProtocolError(DavError):
    """An answer that makes no sense for the request (unexpected status, malformed XML...)."""


class ResponseTooLarge(ProtocolError):
    pass


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    base_seconds: float = 0.25
    max_seconds: float = 30.0
    max_retry_after: float = 120.0
    """A Retry-After longer than this ends the pass; the link is tried again after it."""

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Full jitter (AWS architecture blog): spreads retries of many workers apart."""
        backoff = random.uniform(0, min(self.max_seconds, self.base_seconds * 2**attempt))
        return max(backoff, retry_after or 0.0)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes
    too_large: bool = False
    """The body was larger than allowed and was not read (`body` is then empty)."""

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")


@dataclass
class Counter:
    """Requests sent, by method, and response bytes received: what tests and the benchmark count."""

    by_method: dict[str, int] = field(default_factory=dict)
    received_bytes: int = 0

    def add(self, method: str) -> None:
        self.by_method[method] = self.by_method.get(method, 0) + 1

    @property
    def total(self) -> int:
        return sum(self.by_method.values())


@dataclass(frozen=True)
class Changes:
    """What a listing found: ETag (None if the server gave none) by member name, names deleted.

    `complete` is a full listing (initial sync, or ETag listing): what it lacks is not there.
    """

    etags: dict[str, str | None]
    deleted: frozenset[str]
    token: str | None
    complete: bool


class SyncTokenExpired(DavError):
    """The server no longer knows the token (RFC 6578 valid-sync-token): list everything."""


class SyncUnsupported(DavError):
    """The server does not do sync-collection: fall back to ETag listings."""


_SYNC_BODY = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<d:sync-collection xmlns:d="DAV:"><d:sync-token>{token}</d:sync-token>'
    "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>"
)
_PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:resourcetype/></d:prop></d:propfind>'
)


class DavSession:
    """Requests to one calendar collection over one persistent connection.

    Not thread-safe: the worker gives each link its own session for the length of a pass.
    """

    def __init__(
        self,
        collection_url: str,
        username: str,
        password: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy = RetryPolicy(),
        counter: Counter | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parts = urlsplit(collection_url)
        self.url = collection_url
        self.path = parts.path or "/"
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._timeout = timeout
        self._retry = retry
        self._sleep = sleep
        self.counter = counter if counter is not None else Counter()
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "User-Agent": USER_AGENT}
        self._connection: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def href(self, name: str) -> str:
        """The path of a member of the collection, as servers report hrefs."""
        return self.path + name

    # Requests.

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        *,
        limit: int = MAX_OBJECT_BYTES,
        large_ok: bool = False,
    ) -> Response:
        """Sends with retries; returns any final answer but 401/403 (raised) and 5xx/429 (retried).

        A body over `limit` raises ResponseTooLarge, or with `large_ok` comes back unread.
        """
        sent = dict(self._headers)
        if headers:
            sent.update(headers)
        failure = "no attempt"
        retry_after: float | None = None
        for attempt in range(self._retry.attempts):
            if attempt:
                self._sleep(self._retry.delay(attempt - 1, retry_after))
            retry_after = None
            try:
                response = self._send(method, path, body, sent, limit, large_ok)
            except (OSError, http.client.HTTPException) as error:
                self.close()
                failure = f"{method} failed: {type(error).__name__}: {error}"
                log.info("calendar request failed (attempt %d): %s", attempt + 1, failure)
                continue
            if (
                response.status == 401
                or response.status == 403
                and not _precondition(response.body)
            ):
                raise AuthenticationFailed(response.status)
            if (
                response.status == 429
                or response.status >= 500
                and response.status not in _FINAL_5XX
            ):
                retry_after = _retry_after(response.headers.get("retry-after"))
                failure = f"{method} answered HTTP {response.status}"
                if retry_after is not None and retry_after > self._retry.max_retry_after:
                    raise TransientFailure(failure, retry_after)
                log.info("calendar request refused (attempt %d): %s", attempt + 1, failure)
                continue
            return response
        raise TransientFailure(f"{failure}, after {self._retry.attempts} attempts", retry_after)

    def _send(
        self,
        method: str,
        path: str,
        body: bytes | None,
        headers: dict[str, str],
        limit: int,
        large_ok: bool,
    ) -> Response:
        reused = self._connection is not None
        connection = self._connection or self._connect()
        self._connection = connection
        self.counter.add(method)
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection just as we reused it: the request
            # never reached it, so a fresh connection may send it at once.
            self.close()
            connection = self._connection = self._connect()
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
        content = raw.read(limit + 1)
        self.counter.received_bytes += len(content)
        received = {k.lower(): v for k, v in raw.getheaders()}
        if len(content) > limit:
            self.close()
            if large_ok:
                return Response(raw.status, received, b"", too_large=True)
            raise ResponseTooLarge(f"{method} {path}: the answer is larger than {limit} bytes")
        answer = Response(raw.status, received, content)
        if raw.will_close:
            self.close()
        return answer

    def _connect(self) -> http.client.HTTPConnection:
        """Connects on first use (http.client sets TCP_NODELAY itself)."""
        if self._https:
            return http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=ssl.create_default_context()
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)

    # CalDAV operations.

    def put(self, name: str, body: bytes, *, etag: str | None) -> Response:
        """Creates (If-None-Match: *) or replaces the version we know (If-Match): never blind."""
        condition = {"If-Match": etag} if etag else {"If-None-Match": "*"}
        headers = {"Content-Type": "text/calendar; charset=utf-8", **condition}
        return self.request("PUT", self.href(name), body, headers)

    def get(self, name: str) -> Response:
        """One object; one too large to be a calendar object comes back unread (`too_large`)."""
        return self.request(
            "GET", self.href(name), headers={"Accept": "text/calendar"}, large_ok=True
        )

    def delete(self, name: str, *, etag: str | None) -> Response:
        return self.request("DELETE", self.href(name), headers={"If-Match": etag} if etag else None)

    def sync_collection(self, token: str | None) -> Changes:
        """RFC 6578: what changed since `token` (everything when None), with ETags."""
        body = _SYNC_BODY.format(token=_xml_text(token or "")).encode()
        headers = {"Content-Type": "application/xml; charset=utf-8", "Depth": "1"}
        response = self.request("REPORT", self.path, body, headers, limit=MAX_REPORT_BYTES)
        if response.status in (400, 403, 409, 412) and b"valid-sync-token" in response.body:
            raise SyncTokenExpired("the server no longer knows the sync token")
        if response.status in (400, 403, 404, 405, 415, 422, 501) and not token:
            raise SyncUnsupported(f"sync-collection answered HTTP {response.status}")
        if response.status != 207:
            raise ProtocolError(f"sync-collection answered HTTP {response.status}")
        root = _xml(response.body)
        etags, deleted = self._members(root)
        new_token = root.findtext(f"{_DAV}sync-token")
        return Changes(etags, frozenset(deleted), (new_token or "").strip() or None, not token)

    def list_etags(self) -> Changes:
        """Every member and its ETag (Depth 1 PROPFIND): the fallback without sync tokens."""
        headers = {"Content-Type": "application/xml; charset=utf-8", "Depth": "1"}
        response = self.request(
            "PROPFIND", self.path, _PROPFIND_BODY, headers, limit=MAX_REPORT_BYTES
        )
        if response.status != 207:
            raise ProtocolError(f"PROPFIND answered HTTP {response.status}")
        etags, _ = self._members(_xml(response.body))
        return Changes(etags, frozenset(), None, True)

    def _members(self, root: ET.Element) -> tuple[dict[str, str | None], set[str]]:
        etags: dict[str, str | None] = {}
        deleted: set[str] = set()
        for response in root.iter(f"{_DAV}response"):
            href_text = response.findtext(f"{_DAV}href")
            if not href_text:
                continue
            href = self._normal_href(href_text)
            if href is None:
                continue
            status = response.findtext(f"{_DAV}status") or ""
            if " 404 " in f"{status} ":
                deleted.add(href)
                continue
            if response.find(f".//{_DAV}collection") is not None:
                continue
            etag = None
            for propstat in response.iter(f"{_DAV}propstat"):
                if " 200 " in (propstat.findtext(f"{_DAV}status") or "") + " ":
                    etag = propstat.findtext(f"{_DAV}prop/{_DAV}getetag") or etag
            etags[href] = etag.strip() if etag else None
        return etags, deleted

    def _normal_href(self, href: str) -> str | None:
        """A member's name within this collection (hrefs may be absolute URLs or escaped)."""
        path = unquote(urlsplit(urljoin(self.url, href.strip())).path)
        collection = unquote(self.path)
        if not path.startswith(collection) or path == collection:
            return None
        name = path[len(collection) :]
        return None if "/" in name.rstrip("/") else name


def _xml(body: bytes) -> ET.Element:
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        raise ProtocolError("the server's XML declares entities")  # no entity expansion, ever
    try:
        return ET.fromstring(body)
    except ET.ParseError as error:
        raise ProtocolError(f"malformed XML from the server: {error}") from None


def _precondition(body: bytes) -> bool:
    """A 403 that names a failed WebDAV precondition (RFC 4918 16) is about the request (an
    expired sync token, say), not about who sent it."""
    try:
        return _xml(body).tag == f"{_DAV}error"
    except ProtocolError:
        return False


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
