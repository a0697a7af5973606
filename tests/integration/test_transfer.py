"""Export and import: a round trip reproduces the store exactly; a tampered file imports nothing."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from adapters.bootstrap import open_leanplan
from adapters.credentials import register_user, verify_token
from adapters.demo import load_demo
from adapters.progress import Progress
from adapters.store import eventsourcing_env
from adapters.transfer import GENESIS, ExportChainBroken, StoreNotEmpty, export, import_
from domain.application import Leanplan

COMPRESSED = {"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"}


def _stored(app: Leanplan) -> list[tuple[str, int, str, bytes]]:
    """Every stored event in log order, without notification ids (a database may skip some)."""
    return [
        (str(n.originator_id), n.originator_version, n.topic, n.state)
        for n in app.recorder.select_notifications(1, 1_000_000)
    ]


def _exported(app: Leanplan) -> list[str]:
    out = io.StringIO()
    export(app, out)
    return out.getvalue().splitlines()


def _import(app: Leanplan, lines: list[str]) -> int:
    return import_(app, io.StringIO("".join(f"{line}\n" for line in lines)))


def _dumps(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def _rechained(records: list[dict[str, Any]]) -> list[str]:
    """Lines with every prev_sha256 recomputed: what a careful forger would write."""
    lines: list[str] = []
    previous = GENESIS
    for record in records:
        line = _dumps({**record, "prev_sha256": previous})
        lines.append(line)
        previous = hashlib.sha256(line.encode()).hexdigest()
    return lines


@pytest.fixture
def other_sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'other.sqlite3'}"


@pytest.fixture
def source(other_sqlite_url: str) -> Iterator[tuple[Leanplan, UUID, str]]:
    """A SQLite store with the demo plan and a user: the app, the plan id and the user's token."""
    with open_leanplan(other_sqlite_url) as app:
        plan_id = load_demo(app)
        token = register_user(app, "alice", email="alice@example.com", actor="test")
        yield app, plan_id, token


@pytest.fixture
def empty(database_url: str) -> Iterator[Leanplan]:
    with open_leanplan(database_url) as app:
        yield app


def _assert_same_store(imported: Leanplan, original: Leanplan, plan_id: UUID) -> None:
    assert _stored(imported) == _stored(original)
    assert list(imported.history(plan_id)) == list(original.history(plan_id))
    assert imported.plan_ids() == original.plan_ids()
    assert imported.budget(plan_id) == original.budget(plan_id)
    now, before = imported.plan(plan_id), original.plan(plan_id)
    assert (now.version, now.plan.name, now.plan.assumptions, now.plan.reviews) == (
        before.version,
        before.plan.name,
        before.plan.assumptions,
        before.plan.reviews,
    )
    assert _milestones(now.milestones) == _milestones(before.milestones)


def _milestones(milestones: Any) -> list[dict[str, Any]]:
    return sorted((vars(m) for m in milestones), key=lambda state: str(state["_id"]))


# Round trips.


def test_import_into_an_empty_store_reproduces_every_event_byte_for_byte(
    source: tuple[Leanplan, UUID, str], empty: Leanplan
) -> None:
    original, plan_id, token = source
    assert _import(empty, _exported(original)) == len(_stored(original))
    _assert_same_store(empty, original, plan_id)
    assert verify_token(empty, token) == empty.user("alice")
    assert _exported(empty)[-1] == _exported(original)[-1]  # same chain, so the same last hash


def test_export_from_each_store_imports_elsewhere_unchanged(
    database_url: str, other_sqlite_url: str
) -> None:
    with open_leanplan(database_url) as original, open_leanplan(other_sqlite_url) as copy:
        plan_id = load_demo(original, size=3)
        _import(copy, _exported(original))
        _assert_same_store(copy, original, plan_id)
        assert copy.plan_as_of(plan_id, version=5).version == 5
        assert list(copy.history(plan_id))[4] == list(original.history(plan_id))[4]


def test_compressed_stores_export_base64_state_and_round_trip(tmp_path: Path) -> None:
    def compressed(name: str) -> Leanplan:
        return Leanplan(env={**eventsourcing_env(f"sqlite:///{tmp_path / name}"), **COMPRESSED})

    with compressed("a.sqlite3") as original, compressed("b.sqlite3") as copy:
        plan_id = load_demo(original)
        lines = _exported(original)
        assert isinstance(json.loads(lines[0])["state"], str)
        _import(copy, lines)
        _assert_same_store(copy, original, plan_id)


def test_plain_export_is_refused_by_a_compressing_store(
    source: tuple[Leanplan, UUID, str], tmp_path: Path
) -> None:
    env = {**eventsourcing_env(f"sqlite:///{tmp_path / 'z.sqlite3'}"), **COMPRESSED}
    with (
        Leanplan(env=env) as compressing,
        pytest.raises(ExportChainBroken, match="base64") as broken,
    ):
        _import(compressing, _exported(source[0]))
    assert broken.value.line == 1


# The file format.


def test_export_lines_are_plain_json_chained_by_sha256(source: tuple[Leanplan, UUID, str]) -> None:
    app = source[0]
    lines = _exported(app)
    records = [json.loads(line) for line in lines]
    events, closing = records[:-1], records[-1]
    assert len(events) == len(_stored(app))
    assert records[0]["prev_sha256"] == GENESIS
    for previous, record in zip(lines, records[1:], strict=False):
        assert record["prev_sha256"] == hashlib.sha256(previous.encode()).hexdigest()
    fields = {"seq", "originator_id", "originator_version", "topic", "state", "prev_sha256"}
    assert all(set(event) == fields for event in events)
    assert events[0]["topic"] == "domain.plan:Plan.PlanStarted"
    assert events[0]["state"]["name"] == "Brewline — smart coffee subscriptions"
    assert [e["seq"] for e in events] == sorted({e["seq"] for e in events})
    assert closing == {
        "end": "leanplan-export/1",
        "events": len(events),
        "prev_sha256": hashlib.sha256(lines[-2].encode()).hexdigest(),
    }


def test_an_empty_store_exports_just_the_closing_line_and_imports_it(empty: Leanplan) -> None:
    lines = _exported(empty)
    assert lines == [_dumps({"end": "leanplan-export/1", "events": 0, "prev_sha256": GENESIS})]
    assert _import(empty, lines) == 0


# Tampering.


def _middle(lines: list[str]) -> int:
    """The 1-based number of an event line past the middle that has an actor to edit."""
    return next(n for n in range(len(lines) // 2, len(lines)) if '"actor":"demo"' in lines[n - 1])


def _edit(lines: list[str], number: int, change: Callable[[str], str]) -> list[str]:
    edited = lines.copy()
    edited[number - 1] = change(edited[number - 1])
    return edited


def _records(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def _without_topic(lines: list[str], k: int) -> list[str]:
    records = _records(lines)
    del records[k - 1]["topic"]
    return _rechained(records)


def _seq_repeated(lines: list[str], k: int) -> list[str]:
    records = _records(lines)
    records[k - 1]["seq"] = records[k - 2]["seq"]
    return _rechained(records)


def _event_repeated_at_the_end(lines: list[str], k: int) -> list[str]:
    records = _records(lines)
    *events, closing = records
    repeat = {**events[k - 1], "seq": events[-1]["seq"] + 1}
    return _rechained([*events, repeat, {**closing, "events": len(events) + 1}])


Tampering = Callable[[list[str], int], tuple[list[str], int]]
"""Given the lines and a middle line k: the tampered lines and the line that must be reported."""

TAMPERINGS: dict[str, Tampering] = {
    # An edited line still parses; it is the line after it that no longer chains to it.
    "one character changed": lambda lines, k: (
        _edit(lines, k, lambda line: line.replace('"actor":"demo"', '"actor":"dema"')),
        k + 1,
    ),
    "prev_sha256 changed": lambda lines, k: (
        _edit(lines, k, lambda line: line.replace('"prev_sha256":"', '"prev_sha256":"f', 1)),
        k,
    ),
    "a line deleted": lambda lines, k: ([*lines[: k - 1], *lines[k:]], k),
    "two lines swapped": lambda lines, k: (
        [*lines[: k - 1], lines[k], lines[k - 1], *lines[k + 1 :]],
        k,
    ),
    "a line moved to the end": lambda lines, k: (
        [*lines[: k - 1], *lines[k:-1], lines[k - 1], lines[-1]],
        k,
    ),
    "not JSON": lambda lines, k: (_edit(lines, k, lambda line: line[:-1]), k),
    # What reading a file with errors="surrogateescape" makes of a byte that is not UTF-8.
    "not UTF-8": lambda lines, k: (
        _edit(lines, k, lambda line: line.replace("demo", "d\udcffmo", 1)),
        k,
    ),
    "a field missing, chain recomputed": lambda lines, k: (_without_topic(lines, k), k),
    "seq repeated, chain recomputed": lambda lines, k: (_seq_repeated(lines, k), k),
    "an event twice, chain recomputed": lambda lines, k: (
        _event_repeated_at_the_end(lines, k),
        len(lines),
    ),
    "the file cut after line k": lambda lines, k: (lines[:k], k + 1),
    "the closing line lost": lambda lines, k: (lines[:-1], len(lines)),
    "the closing count changed": lambda lines, k: (
        _edit(lines, len(lines), lambda line: line.replace('"events":', '"events":1')),
        len(lines),
    ),
    "a line after the closing line": lambda lines, k: ([*lines, lines[0]], len(lines) + 1),
}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_tampered_export_is_refused_at_the_first_broken_line_and_imports_nothing(
    tampering: str, source: tuple[Leanplan, UUID, str], empty: Leanplan
) -> None:
    lines = _exported(source[0])
    tampered, broken_line = TAMPERINGS[tampering](lines, _middle(lines))
    with pytest.raises(ExportChainBroken) as broken:
        _import(empty, tampered)
    assert broken.value.line == broken_line
    assert str(broken.value).startswith(f"export file broken at line {broken_line}: ")
    assert empty.recorder.max_notification_id() is None


def test_import_into_a_store_with_events_is_refused_and_changes_nothing(
    source: tuple[Leanplan, UUID, str], empty: Leanplan
) -> None:
    load_demo(empty)
    before = _stored(empty)
    with pytest.raises(StoreNotEmpty, match="empty store"):
        _import(empty, _exported(source[0]))
    assert _stored(empty) == before


# Progress on a terminal.


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_is_drawn_on_a_terminal_only(source: tuple[Leanplan, UUID, str]) -> None:
    terminal, pipe = _Terminal(), io.StringIO()
    export(source[0], io.StringIO(), progress=lambda label, total: Progress(label, total, terminal))
    export(source[0], io.StringIO(), progress=lambda label, total: Progress(label, total, pipe))
    drawn = terminal.getvalue()
    assert drawn.startswith("\rexport [")
    assert "] 100% (" in drawn and drawn.endswith(")\n")
    assert pipe.getvalue() == ""


def test_progress_redraws_only_when_the_percentage_moves() -> None:
    terminal = _Terminal()
    with Progress("demo", 1000, terminal) as bar:
        for _ in range(1000):
            bar.advance()
    frames = terminal.getvalue().split("\r")[1:]
    assert len(frames) == 101
    assert frames[-1] == f"demo [{'#' * 30}] 100% (1000/1000)\n"
