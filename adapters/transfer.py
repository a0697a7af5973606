"""Export every stored event as hash-chained JSON lines, and import such a file into an empty store.

Line format (one JSON object per line, UTF-8, `\\n`-terminated, in notification-log order):

    {"seq": 1, "originator_id": "<uuid>", "originator_version": 1, "topic": "<module:Class>",
     "state": {...}, "prev_sha256": "<hex>"}

`state` is the stored event state as a JSON object when the store keeps plain JSON (the default);
when the store compresses or encrypts it, `state` is those bytes in base64 instead. `prev_sha256` is
the SHA-256 of the previous line's bytes without its newline; the first line has 64 zeros. A last
line `{"end": "leanplan-export/1", "events": N, "prev_sha256": ...}` seals the file, so truncating
it or changing its last event is noticed too.

The chain catches corruption, lost lines, reordering and casual edits; it is not a signature, since
anyone can recompute it. Errors name the first line that fails a check: an edit that keeps a line
valid JSON shows on the line after it, whose prev_sha256 no longer matches. Importing copies stored events byte for byte (same ids, versions,
timestamps), so the imported store answers every query exactly as the exported one did.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterator
from typing import Any, TextIO
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Notification, StoredEvent

from adapters.progress import Progress, ProgressFactory

FORMAT = "leanplan-export/1"
GENESIS = "0" * 64
PAGE_SIZE = 500
_EVENT_FIELDS = ("seq", "originator_id", "originator_version", "topic", "state", "prev_sha256")


class TransferError(Exception):
    """An export file cannot be imported; the message is one line for the person importing."""


class ExportChainBroken(TransferError):
    """Line `line` (1-based) is unreadable, incomplete or does not follow from the line before."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"export file broken at line {line}: {problem}")
        self.line = line


class StoreNotEmpty(TransferError):
    """Imports only go into an empty store: merging two histories would interleave their events."""


def export(app: Application[UUID], out: TextIO, progress: ProgressFactory = Progress) -> int:
    """Writes every stored event, oldest first, then the closing line; returns the event count."""
    plain = _stores_plain_json(app)
    previous = GENESIS
    count = 0
    with progress("export", app.recorder.max_notification_id() or 0) as bar:
        for notification in _notifications(app):
            line = _dumps(_event_record(notification, plain, previous))
            out.write(line + "\n")
            previous = _sha256(line)
            count += 1
            bar.advance(notification.id - bar.done)
    out.write(_dumps({"end": FORMAT, "events": count, "prev_sha256": previous}) + "\n")
    return count


def import_(app: Application[UUID], in_: TextIO, progress: ProgressFactory = Progress) -> int:
    """Checks the whole file, then copies its events into `app`'s empty store; returns the count.

    Nothing is written unless every line checks out. Events go in batches of `PAGE_SIZE`, each its
    own transaction: should the database fail midway, the store is left partly filled and a new
    import into it is refused, so start again from an empty store.
    """
    if app.recorder.max_notification_id() is not None:
        raise StoreNotEmpty("the store already holds events; import only into an empty store")
    events = verified_events(in_, plain=_stores_plain_json(app))
    with progress("import", len(events)) as bar:
        for start in range(0, len(events), PAGE_SIZE):
            batch = events[start : start + PAGE_SIZE]
            app.recorder.insert_events(batch)
            bar.advance(len(batch))
    return len(events)


def verified_events(in_: TextIO, *, plain: bool) -> list[StoredEvent]:
    """The file's events once every line's hash, fields and order check out; else ExportChainBroken.

    `plain` says whether the target store keeps plain JSON state (see the module docstring).
    """
    events: list[StoredEvent] = []
    seen: set[tuple[UUID | str, int]] = set()
    previous = GENESIS
    last_seq = 0
    for number, line in enumerate(_lines(in_), start=1):
        record = _parse(line, number)
        if "end" in record:
            _check_end(record, number, previous, len(events))
            _check_nothing_after(in_, number)
            return events
        _check_link(record, number, previous)
        last_seq = _check_seq(record, number, last_seq)
        event = _stored_event(record, number, plain)
        key = (event.originator_id, event.originator_version)
        if key in seen:
            raise ExportChainBroken(number, "the same event appears twice")
        seen.add(key)
        events.append(event)
        previous = _sha256(line)
    raise ExportChainBroken(len(events) + 1, "the closing line is missing (file truncated?)")


def _notifications(app: Application[UUID]) -> Iterator[Notification]:
    last = 0
    while page := app.recorder.select_notifications(last + 1, PAGE_SIZE):
        yield from page
        last = page[-1].id


def _event_record(notification: Notification, plain: bool, previous: str) -> dict[str, Any]:
    state = notification.state
    return {
        "seq": notification.id,
        "originator_id": str(notification.originator_id),
        "originator_version": notification.originator_version,
        "topic": notification.topic,
        "state": json.loads(state) if plain else base64.b64encode(state).decode("ascii"),
        "prev_sha256": previous,
    }


def _check_link(record: dict[str, Any], number: int, previous: str) -> None:
    if "prev_sha256" not in record:
        raise ExportChainBroken(number, "missing field 'prev_sha256'")
    if record["prev_sha256"] != previous:
        raise ExportChainBroken(
            number, "prev_sha256 does not match the line before (a line was edited, lost or moved)"
        )


def _check_seq(record: dict[str, Any], number: int, last_seq: int) -> int:
    seq = _require_int(record, "seq", number)
    if seq <= last_seq:
        raise ExportChainBroken(number, f"seq {seq} does not follow {last_seq}")
    return seq


def _stored_event(record: dict[str, Any], number: int, plain: bool) -> StoredEvent:
    missing = [name for name in _EVENT_FIELDS if name not in record]
    if missing:
        raise ExportChainBroken(number, f"missing field {missing[0]!r}")
    try:
        originator_id = UUID(record["originator_id"])
    except (ValueError, TypeError, AttributeError):
        raise ExportChainBroken(number, "originator_id is not a UUID") from None
    topic = record["topic"]
    if not isinstance(topic, str) or not topic:
        raise ExportChainBroken(number, "topic is not a non-empty string")
    return StoredEvent(
        originator_id=originator_id,
        originator_version=_require_int(record, "originator_version", number),
        topic=topic,
        state=_state_bytes(record["state"], number, plain),
    )


def _state_bytes(state: Any, number: int, plain: bool) -> bytes:
    """Plain JSON is re-encoded exactly as eventsourcing's JSONTranscoder wrote it."""
    if plain and isinstance(state, dict):
        return _dumps(state).encode()
    if not plain and isinstance(state, str):
        try:
            return base64.b64decode(state, validate=True)
        except binascii.Error:
            raise ExportChainBroken(number, "state is not valid base64") from None
    wanted = "a JSON object" if plain else "base64 text (this store compresses or encrypts events)"
    raise ExportChainBroken(number, f"state must be {wanted}")


def _check_end(record: dict[str, Any], number: int, previous: str, count: int) -> None:
    _check_link(record, number, previous)
    if record["end"] != FORMAT:
        raise ExportChainBroken(number, f"unknown export format {record['end']!r}")
    if _require_int(record, "events", number, minimum=0) != count:
        raise ExportChainBroken(
            number, f"the closing line counts {record['events']} events, not {count}"
        )


def _check_nothing_after(in_: TextIO, number: int) -> None:
    if next(_lines(in_), None) is not None:
        raise ExportChainBroken(number + 1, "lines after the closing line")


def _lines(in_: TextIO) -> Iterator[str]:
    for line in in_:
        yield line.removesuffix("\n")


def _parse(line: str, number: int) -> dict[str, Any]:
    """The line as a JSON object; bytes that were not UTF-8 arrive as surrogate escapes."""
    try:
        line.encode()
    except UnicodeEncodeError:
        raise ExportChainBroken(number, "not UTF-8 text") from None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ExportChainBroken(number, f"not JSON ({error.msg})") from None
    if not isinstance(record, dict):
        raise ExportChainBroken(number, "not a JSON object")
    return record


def _require_int(record: dict[str, Any], name: str, number: int, minimum: int = 1) -> int:
    value = record.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ExportChainBroken(number, f"{name} must be an integer of at least {minimum}")
    return value


def _stores_plain_json(app: Application[UUID]) -> bool:
    return app.mapper.compressor is None and app.mapper.cipher is None


def _dumps(value: dict[str, Any]) -> str:
    """The JSON form eventsourcing's transcoder writes: compact, non-ASCII kept as is."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _sha256(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()
