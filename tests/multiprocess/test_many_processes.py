"""Many processes on one PostgreSQL, for real: two `leanplan serve` (gunicorn, two workers each)
and two `leanplan sync` workers share one database; a plan is linked (two-way) to a Radicale
calendar behind a proxy that logs every request the server answered.

Eight writers send 200 reschedules each, alternating between the two servers; every third one
carries If-Match with the plan's ETag as just read, so stale ones are refused. Each command has a
reason naming it, so the history says which commands were applied, and how often.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import pytest

from adapters.bootstrap import open_leanplan
from adapters.caldav_content import Renderer, parse_object, resource_name, start_day
from adapters.caldav_state import SideDatabase, SyncState
from adapters.credentials import register_user
from domain.application import Leanplan
from domain.history import HistoryEntry
from tests.caldav.conftest import FAST, make_plan
from tests.caldav.support import CalendarApp, Exchange, Proxy
from tests.multiprocess.support import Processes, request, wait_until

WRITERS = 8
COMMANDS = 200
MILESTONES = 12
IF_MATCH_EVERY = 3
FIRST_DUE = date(2033, 1, 1)
API = "/api/v1"


@dataclass(frozen=True)
class Command:
    writer: str
    milestone: UUID
    due: date
    reason: str
    if_match: bool
    status: int


def _writer(
    number: int, token: str, ports: list[int], plan_id: UUID, milestones: list[UUID]
) -> list[Command]:
    """200 reschedules to days no other command uses, through both servers in turn."""
    rng = random.Random(number)
    done = []
    for n in range(COMMANDS):
        port = ports[(number + n) % len(ports)]
        milestone = rng.choice(milestones)
        due = FIRST_DUE + timedelta(days=number * COMMANDS + n)
        headers = {}
        if n % IF_MATCH_EVERY == 0:
            read = request(port, "GET", f"{API}/plans/{plan_id}", token=token)
            assert read.status == 200, read
            headers["If-Match"] = read.headers["etag"]
        reason = f"writer {number} command {n}"
        answer = request(
            port, "POST", f"{API}/plans/{plan_id}/milestones/{milestone}/reschedule",
            token=token, body={"due": due.isoformat(), "reason": reason}, headers=headers,
        )  # fmt: skip
        allowed = (200, 409, 412) if headers else (200, 409)
        assert answer.status in allowed, (answer.status, answer.body)
        done.append(Command(f"w{number}", milestone, due, reason, bool(headers), answer.status))
    return done


def _history_pages(port: int, token: str, plan_id: UUID) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor: int | None = 0
    while cursor is not None:
        page = request(
            port, "GET", f"{API}/plans/{plan_id}/history?limit=500&cursor={cursor}", token=token
        )
        assert page.status == 200, page
        entries += page.json()["entries"]
        cursor = page.json()["next_cursor"]
    return entries


def _remote_equals_plan(
    app: Leanplan, plan_id: UUID, link_id: UUID, calendar: CalendarApp
) -> bool:
    view = app.plan(plan_id)
    link = view.plan.calendar_link(link_id)
    wanted = Renderer(FAST.base_url, FAST.cancelled_grace).wanted(view, link, datetime.now(UTC))
    parsed = {name: parse_object(body) for name, body in calendar.objects().items()}
    assert all(name == resource_name(p.uid) for name, p in parsed.items())  # one object per UID
    return {p.uid: p.fields for p in parsed.values()} == {u: w.fields for u, w in wanted.items()}


def _is_ordered_subsequence(pushed: list[date], states: list[date]) -> bool:
    """Whether each pushed day is a later state than the one pushed before it: no state twice,
    none out of order, none that the milestone never had."""
    remaining = iter(states)
    return all(any(day == state for state in remaining) for day in pushed)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_servers_and_two_sync_workers_on_one_database(
    postgres_url: str,
    collection: str,
    proxy_for: Callable[..., Proxy],
    launch: Callable[[str], Processes],
) -> None:
    app = open_leanplan(postgres_url, environ={})
    try:
        _run(app, postgres_url, collection, proxy_for(), launch(postgres_url))
    finally:
        app.close()


def _run(
    app: Leanplan, database_url: str, collection: str, proxy: Proxy, processes: Processes
) -> None:
    owner = register_user(app, "ann", email="ann@example.com", actor="test")
    tokens = [
        register_user(app, f"w{n}", email=f"w{n}@example.com", actor="test")
        for n in range(WRITERS)
    ]
    plan_id, milestones = make_plan(app, MILESTONES)
    for n in range(WRITERS):
        app.add_member(plan_id, f"w{n}", "editor", actor="ann")
    servers = processes.serve(2, workers=2)
    ports = [port for _, port in servers]
    linked = request(
        ports[0], "POST", f"{API}/plans/{plan_id}/calendar-links", token=owner,
        body={"name": "Team", "url": proxy.url + urlsplit(collection).path, "username": "ann",
              "password": "secret", "direction": "two_way"},
    )  # fmt: skip
    assert linked.status == 201, linked
    link_id = UUID(linked.json()["id"])
    initial_due = {m: app.milestone(m).due for m in milestones}
    before = len(list(app.history(plan_id)))
    workers = [
        processes.sync("--push-seconds", "0.5", "--poll-seconds", "2") for _ in range(2)
    ]

    with ThreadPoolExecutor(WRITERS) as pool:
        futures = [
            pool.submit(_writer, n, tokens[n], ports, plan_id, milestones) for n in range(WRITERS)
        ]
        commands = [command for future in futures for command in future.result()]

    # Every accepted command is exactly one event, by its writer; a refused one left none.
    history = list(app.history(plan_id))
    by_reason: dict[str, list[HistoryEntry]] = defaultdict(list)
    for entry in history:
        by_reason[entry.reason or ""].append(entry)
    accepted = [c for c in commands if c.status == 200]
    for command in commands:
        entries = by_reason.get(command.reason, [])
        if command.status != 200:
            assert entries == [], command
            continue
        [entry] = entries
        assert (entry.type, entry.actor, entry.milestone_id) == (
            "MilestoneRescheduled", command.writer, command.milestone
        )  # fmt: skip
    statuses = Counter(c.status for c in commands)
    assert statuses[409] + statuses[412] > 0, statuses  # the writers really collided
    assert len(history) == before + len(accepted)

    # Both servers serve the same plan and the same history, with every change in it.
    version = f'"{app.plan(plan_id).version}"'
    plans = [request(port, "GET", f"{API}/plans/{plan_id}", token=owner) for port in ports]
    assert [p.headers["etag"] for p in plans] == [version, version]
    assert plans[0].json() == plans[1].json()
    pages = [_history_pages(port, owner, plan_id) for port in ports]
    assert pages[0] == pages[1] and len(pages[0]) == len(history)

    # The calendar ends equal to the plan; then each worker polls once more, changing nothing.
    calendar = CalendarApp(collection)  # straight to Radicale: not counted by the proxy
    state = SyncState(SideDatabase(app))

    def settled() -> bool:
        link = state.link(link_id)
        return bool(link and not link.needs_push and link.status == "ok") and (
            _remote_equals_plan(app, plan_id, link_id, calendar)
        )

    wait_until(settled, "calendar equal to the plan", seconds=60)
    polls = sum(e.method == "REPORT" for e in proxy.exchanges)
    wait_until(
        lambda: sum(e.method == "REPORT" for e in proxy.exchanges) >= polls + 4,
        "further polls by the workers",
        seconds=30,
    )
    assert all(w.alive() for w in workers), [w.output() for w in workers]
    for worker in workers:
        assert worker.stop() == 0, worker.output()
        assert "Traceback" not in worker.output(), worker.output()
    assert _remote_equals_plan(app, plan_id, link_id, calendar)
    assert not [e for e in app.history(plan_id) if e.actor.startswith("calendar:")]

    # Each change reached the server once: every write accepted, no state written twice.
    writes: dict[str, list[Exchange]] = defaultdict(list)
    for exchange in proxy.exchanges:
        if exchange.method in ("PUT", "DELETE"):
            writes[exchange.path.rsplit("/", 1)[1]].append(exchange)
    assert {e.method for sent in writes.values() for e in sent} == {"PUT"}
    assert {e.status for sent in writes.values() for e in sent} <= {201, 204}
    assert len(writes) == MILESTONES + 1  # and the review series
    zone = app.plan(plan_id).plan.timezone
    for milestone in milestones:
        states = [initial_due[milestone]] + [
            c.due
            for c in sorted(accepted, key=lambda c: by_reason[c.reason][0].position)
            if c.milestone == milestone
        ]
        sent = writes[resource_name(str(milestone))]
        pushed = [start_day(parse_object(e.body).fields["DTSTART"], zone) for e in sent]
        assert _is_ordered_subsequence(pushed, states), (pushed, states)
        assert pushed[-1] == states[-1] == app.milestone(milestone).due
    for name, sent in writes.items():
        bodies = [parse_object(e.body).fields for e in sent]
        assert all(a != b for a, b in zip(bodies, bodies[1:], strict=False)), name
    for server, _ in servers:
        assert "Traceback" not in server.output(), server.output()
