"""The calendar sync worker: follows the event log, pushes plans into CalDAV calendars, and reads
moves back.

A pass over a link
1. follows the notification log from the tracking position (adapters.caldav_state): new links,
   unlinks and changed plans are recorded with the new position in one transaction;
2. pulls (every link; `push` links only repair, they bring nothing back): asks the server what
   changed — RFC 6578 sync-collection with the stored token, or an ETag listing where the server
   has no sync tokens — and fetches only objects of ours whose ETag moved. Each is compared by
   its normalised fields (adapters.caldav_content), so echoes of our own writes and server
   rewrites are no change. A moved start becomes `MilestoneRescheduled` (or
   `ReviewOccurrenceMoved`) by `calendar:<link name>`; if the plan moved it too since that
   object was written, the link's conflict policy decides and `CalendarConflictResolved` says
   who had what and who won; other edits are noted and overwritten; a deletion is noted and
   the object re-created — it never cancels anything;
3. pushes: the objects the plan wants (the feed's filters and grace period) against what the
   server holds; only those whose body changed are written — create with `If-None-Match: *`,
   update with `If-Match` on the known ETag, delete what left the plan's view. A 412 means the
   server holds something else: it is fetched and judged as in the pull, then written over.

Crash safety: objects are named after their UID, so a repeated write cannot duplicate anything;
a write that happened but was not recorded comes back as a 412 and is recognised as our own by
its X-LEANPLAN-BASE, so nothing is noted twice and nothing is lost.

Several workers: any number may run on one store, and each change is still pushed once. A pass
over a link happens under that link's lock (adapters.caldav_locks: an advisory lock on
PostgreSQL, a file lock on SQLite), taken without waiting; a worker that finds the lock held
skips the link (`PassReport.busy`), since the holder is doing that work now. Under the lock the
worker reads the link afresh (another worker may have just passed over it and moved its sync
token), and only then the plan, so a pass never works from older state than the last one left.
Reading the log has a lock of its own. A change announced while a pass runs is not cleared by
that pass (`needs_push` counts announcements): the next pass, by whichever worker, pushes it. A
killed worker's locks go with its database session or process, so the others carry on. Each
worker polls the calendars on its own clock: with N workers, calendars are read about N times
per `poll_seconds`.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import partial
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from adapters.caldav_content import (
    HostileObject,
    ItemKind,
    Parsed,
    Renderer,
    Wanted,
    changed_fields,
    decode_base,
    parse_object,
    resource_name,
    start_day,
    start_moment,
)
from adapters.caldav_http import (
    AuthenticationFailed,
    Changes,
    Counter,
    DavSession,
    ProtocolError,
    Response,
    RetryPolicy,
    SyncTokenExpired,
    SyncUnsupported,
    TransientFailure,
)
from adapters.caldav_locks import FOLLOW, Locks, worker_locks
from adapters.caldav_state import Claim, ItemState, LinkState, SideDatabase, Status, SyncState
from adapters.progress import Progress, ProgressFactory
from adapters.secrets import LinkSecrets, SecretUnreadable, cipher_from_environ
from adapters.store import ConfigurationError
from domain.application import Leanplan
from domain.calendar_links import CalendarLink, CalendarLinkNotFound, ConflictPolicy, Winner
from domain.errors import ConcurrentChange, ReviewOccurrenceNotFound
from domain.milestone import Milestone
from domain.plan import Plan
from domain.values import MilestoneStatus
from domain.views import PlanView

log = logging.getLogger(__name__)

SCAN_PAGE = 1_000
PROGRESS_FROM = 20
"""Fewer writes than this finish before a bar would be worth drawing."""
_PLAN_TOPICS = ("domain.plan:Plan.", "domain.milestone:Milestone.")
_SUCCESS = (200, 201, 204)
_ITEM_REFUSED = (400, 409, 413, 415, 422, 507)
"""Answers that refuse one object (a server limit, a UID clash) but not the link."""


@dataclass(frozen=True)
class SyncSettings:
    base_url: str = "http://127.0.0.1:8000"
    """Where the plan's pages are: links in descriptions, as in feeds (LEANPLAN_BASE_URL)."""
    cancelled_grace: timedelta = timedelta(days=30)
    poll_seconds: float = 60.0
    """How often `run` asks every calendar what changed there."""
    push_seconds: float = 1.0
    """How often `run` looks at the event log for local changes to push."""
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    transient_backoff: timedelta = timedelta(seconds=10)
    """After a pass failed on the network or a 5xx: wait this, doubling per failure."""
    failing_backoff: timedelta = timedelta(minutes=5)
    """After 401/403 or a server that makes no sense: wait this, doubling per failure."""
    max_backoff: timedelta = timedelta(hours=1)
    batch: int = 50
    """Writes recorded per transaction: a crash repeats at most this many (harmlessly)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> SyncSettings:
        """LEANPLAN_BASE_URL, LEANPLAN_FEED_GRACE_DAYS (shared with feeds),
        LEANPLAN_SYNC_POLL_SECONDS and LEANPLAN_SYNC_PUSH_SECONDS."""
        defaults = cls()

        def number(key: str, default: float) -> float:
            text = environ.get(key, "").strip()
            try:
                value = float(text) if text else default
            except ValueError:
                raise ConfigurationError(f"{key}: not a number: {text!r}") from None
            if not 0 < value < 10**7:
                raise ConfigurationError(f"{key}: must be a positive number")
            return value

        return cls(
            base_url=environ.get("LEANPLAN_BASE_URL", "").strip() or defaults.base_url,
            cancelled_grace=timedelta(
                days=number("LEANPLAN_FEED_GRACE_DAYS", defaults.cancelled_grace.days)
            ),
            poll_seconds=number("LEANPLAN_SYNC_POLL_SECONDS", defaults.poll_seconds),
            push_seconds=number("LEANPLAN_SYNC_PUSH_SECONDS", defaults.push_seconds),
        )


@dataclass
class PassReport:
    """What one pass did, for the command line and the tests."""

    links: int = 0
    written: int = 0
    deleted: int = 0
    fetched: int = 0
    failed: dict[UUID, str] = field(default_factory=dict)
    busy: int = 0
    """Links skipped because another worker held them."""


class _Replan(Exception):
    """The pull changed the plan: what to push must be worked out again."""


class CalendarSync:
    """One worker over every calendar link of the store. Not thread-safe: one per process."""

    def __init__(
        self,
        app: Leanplan,
        *,
        secrets: LinkSecrets,
        settings: SyncSettings = SyncSettings(),
        state: SyncState | None = None,
        progress: ProgressFactory = Progress,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        locks: Locks | None = None,
    ) -> None:
        self.app = app
        self.secrets = secrets
        self.settings = settings
        self.state = state or SyncState(SideDatabase(app))
        self.locks = locks or worker_locks(app)
        self.renderer = Renderer(settings.base_url, settings.cancelled_grace)
        self.counter = Counter()
        self._progress = progress
        self.clock = clock

    @classmethod
    def from_environ(cls, app: Leanplan, environ: Mapping[str, str] = os.environ) -> CalendarSync:
        database = SideDatabase(app)
        return cls(
            app,
            secrets=LinkSecrets(database, cipher_from_environ(environ)),
            settings=SyncSettings.from_environ(environ),
            state=SyncState(database),
        )

    # Following the log.

    def follow(self) -> None:
        """Reads the log from the tracking position: new links, unlinks, and plans changed."""
        position = start = self.state.position()
        recorder = self.app.recorder
        while notifications := recorder.select_notifications(
            position, SCAN_PAGE, inclusive_of_start=False
        ):
            linked: list[tuple[UUID, UUID, str, str, str]] = []
            unlinked: list[tuple[UUID, bool]] = []
            plans: set[UUID] = set()
            for notification in notifications:
                if not notification.topic.startswith(_PLAN_TOPICS):
                    continue  # users, registers: decoding them would be wasted
                event = self.app.mapper.to_domain_event(notification)
                if not isinstance(event, Plan.Event | Milestone.Event):
                    continue
                plans.add(event.plan_id)
                if isinstance(event, Plan.CalendarLinked):
                    linked.append(
                        (event.link_id, event.plan_id, event.name, event.url, event.username)
                    )
                elif isinstance(event, Plan.CalendarUnlinked):
                    unlinked.append((event.link_id, event.remove_items))
            position = notifications[-1].id
            self.state.advance(position, linked=linked, unlinked=unlinked, changed_plans=plans)
        if position != start:
            log.debug("followed the event log from %d to %d", start, position)

    # Passes.

    def close(self) -> None:
        """Lets go of the lock connection (the event store is the caller's to close)."""
        self.locks.close()

    def sync_once(self, *, pull: bool = True, only_waiting: bool = False) -> PassReport:
        """Follows the log, then passes over every link (or only those with changes waiting)
        that no other worker holds."""
        with self.locks.hold(FOLLOW) as following:
            if following:  # else another worker is reading the log right now
                self.follow()
        report = PassReport()
        now = self.clock()
        for listed in self.state.links():
            if not _due(listed, now, only_waiting):
                continue
            with self.locks.hold(str(listed.link_id)) as mine:
                if not mine:
                    report.busy += 1
                    continue
                claim = self.state.claim(listed.link_id)
                if claim is None or not _due(claim.link, now, only_waiting):
                    continue  # another worker passed over it (or forgot it) just before
                report.links += 1
                self._pass(claim, pull=pull, report=report)
        return report

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: local changes pushed within `push_seconds`, every calendar read
        every `poll_seconds`. Errors of one link never stop the others or the loop."""
        next_poll = 0.0
        while not stop.is_set():
            polling = time.monotonic() >= next_poll
            if polling:
                next_poll = time.monotonic() + self.settings.poll_seconds
            try:
                self.sync_once(pull=polling, only_waiting=not polling)
            except PersistenceError:  # calendars' errors stay with their link; the store's end here
                log.exception("the store failed during a calendar sync pass; trying again")
            stop.wait(self.settings.push_seconds)

    def _pass(self, claim: Claim, *, pull: bool, report: PassReport) -> None:
        link = claim.link
        started = self.clock()
        if not link.active and not link.remove_items:  # nothing to say to the server
            self._forget(link)
            return
        try:
            password = self.secrets.get(link.link_id)
        except SecretUnreadable as error:
            self._failed(link, Status.FAILING, str(error), report)
            return
        session = DavSession(
            link.url, link.username, password, timeout=self.settings.timeout,
            retry=self.settings.retry, counter=self.counter,
        )  # fmt: skip
        try:
            with session:
                if not link.active:
                    self._retire(session, link, report)
                    return
                in_sync = self._sync(session, link, pull=pull, report=report)
        except AuthenticationFailed as error:
            self._failed(link, Status.FAILING, str(error), report)
        except TransientFailure as error:
            self._failed(link, Status.RETRYING, str(error), report, error.retry_after)
        except (ProtocolError, HostileObject) as error:
            self._failed(
                link, Status.FAILING, f"the calendar server answered oddly: {error}", report
            )
        except ConcurrentChange as error:  # someone edited what the pull was changing: again
            self.state.finish(
                link.link_id, status=Status.RETRYING, at=started, error=str(error),
                failures=link.failures, next_attempt_at=None,
            )  # fmt: skip
        except CalendarLinkNotFound:
            log.info("calendar link %s was unlinked during the pass", link.link_id)
        else:
            self.state.finish(
                link.link_id, status=Status.OK, at=started, error=None, failures=0,
                next_attempt_at=None, served=claim.push_requests, items_in_sync=in_sync,
                synced=True,
            )  # fmt: skip

    def _failed(
        self,
        link: LinkState,
        status: str,
        message: str,
        report: PassReport,
        retry_after: float | None = None,
    ) -> None:
        failures = link.failures + 1
        first = (
            self.settings.failing_backoff
            if status == Status.FAILING
            else self.settings.transient_backoff
        )
        wait = min(first * 2 ** (failures - 1), self.settings.max_backoff)
        if retry_after is not None:  # the server said when; never earlier than our own backoff
            wait = max(wait, timedelta(seconds=retry_after))
        log.warning(
            "calendar link %s (%s): %s; next attempt in %s", link.name, link.link_id, message, wait
        )
        report.failed[link.link_id] = message
        self.state.finish(
            link.link_id, status=status, at=self.clock(), error=message, failures=failures,
            next_attempt_at=self.clock() + wait,
        )  # fmt: skip

    def _retire(self, session: DavSession, link: LinkState, report: PassReport) -> None:
        """An unlinked calendar: remove what was pushed if asked, then forget link and password."""
        if link.remove_items:
            for uid, item in self.state.items(link.link_id).items():
                if item.present:
                    self._delete(session, uid, item)
                    report.deleted += 1
                self.state.record(link.link_id, [], [uid])
        self._forget(link)

    def _forget(self, link: LinkState) -> None:
        self.state.forget(link.link_id)
        self.secrets.delete(link.link_id)
        log.info("calendar link %s (%s) is unlinked and forgotten", link.name, link.link_id)

    def _sync(
        self, session: DavSession, link_state: LinkState, *, pull: bool, report: PassReport
    ) -> int:
        """Pull then push; what the calendar changed in the plan is worked into the push.

        Returns how many objects are in sync. Each round that changes the plan (a move, a note)
        plans the push again; three rounds in a row are not expected, and the next pass goes on.
        """
        for _ in range(3):
            view = self.app.plan(link_state.plan_id)
            link = view.plan.calendar_link(link_state.link_id)
            wanted = self.renderer.wanted(view, link, self.clock())
            items = self.state.items(link.id)
            try:
                if pull:
                    items = self._pull(session, link_state, link, view, wanted, items, report)
                return self._push(session, link, view, wanted, items, report)
            except _Replan:
                pull = False
        items = self.state.items(link.id)
        return sum(_in_sync(want, items.get(uid)) for uid, want in wanted.items())

    # Pull.

    def _pull(
        self,
        session: DavSession,
        link_state: LinkState,
        link: CalendarLink,
        view: PlanView,
        wanted: dict[str, Wanted],
        items: dict[str, ItemState],
        report: PassReport,
    ) -> dict[str, ItemState]:
        changes, mode = self._changes(session, link_state)
        updated: dict[str, ItemState] = {}
        replan = False
        for uid, item in items.items():
            if not item.present:
                continue
            name = resource_name(uid)
            gone = name in changes.deleted or (changes.complete and name not in changes.etags)
            if not gone and (
                name not in changes.etags or changes.etags[name] == item.etag and item.etag
            ):
                continue
            want = wanted.get(uid)
            fetched = None if gone else session.get(name)
            report.fetched += 0 if gone else 1
            if gone or fetched is not None and fetched.status == 404:
                if want is not None:
                    self._note_deleted(link, want)
                    replan = True
                updated[uid] = ItemState(uid, None, None, False, item.base)
            elif fetched is not None and fetched.status == 200:
                if want is None:  # about to be deleted by the push anyway
                    updated[uid] = replace(item, etag=fetched.etag)
                    continue
                judged, moved = self._judge(link, view, want, item, fetched)
                updated[uid] = judged
                replan = replan or moved
            elif fetched is not None:
                raise ProtocolError(f"GET {name} answered HTTP {fetched.status}")
        if updated or changes.token != link_state.sync_token or mode != link_state.sync_mode:
            self.state.record(link.id, updated.values(), token=(changes.token, mode))
        if replan:
            raise _Replan
        return items | updated

    def _changes(self, session: DavSession, link_state: LinkState) -> tuple[Changes, str]:
        token = link_state.sync_token if link_state.sync_mode == "token" else None
        if link_state.sync_mode != "etag":
            try:
                try:
                    return session.sync_collection(token), "token"
                except SyncTokenExpired:
                    log.info(
                        "calendar %s forgot our sync token; listing everything", link_state.name
                    )
                    return session.sync_collection(None), "token"
            except SyncUnsupported:
                log.info("calendar %s has no sync tokens; comparing ETags", link_state.name)
        return session.list_etags(), "etag"

    def _judge(
        self,
        link: CalendarLink,
        view: PlanView,
        want: Wanted,
        item: ItemState | None,
        fetched: Response,
    ) -> tuple[ItemState, bool]:
        """What the server holds, judged against the plan: the new item state, and whether the
        plan changed because of it. A state with no digest is written over by the push."""
        base_text = item.base if item else None
        etag = fetched.etag
        overwrite = ItemState(want.uid, etag, None, True, base_text)
        try:
            if fetched.too_large:
                raise HostileObject("larger than any calendar object leanplan writes")
            parsed = parse_object(fetched.body)
        except HostileObject as error:
            log.error(
                "calendar %s: skipped the object %s: %s", link.name, resource_name(want.uid), error
            )
            return overwrite, False
        if parsed.uid != want.uid:
            log.error(
                "calendar %s: %s holds another UID; writing ours over it", link.name, want.uid
            )
            return overwrite, False
        if parsed.fields == want.fields:
            return ItemState(want.uid, etag, want.digest, True, want.base), False
        try:
            base = parsed.base or (decode_base(base_text) if base_text else None)
        except HostileObject:
            base = None
        if base is None:  # nothing says what it was: not ours to interpret, just ours to fix
            return overwrite, False
        changed = changed_fields(parsed, base)
        if not changed:  # an earlier write of ours, untouched: overwrite, nothing to note
            return overwrite, False
        if want.kind is ItemKind.MILESTONE:
            moved = self._milestone_edited(
                link, view.milestone(want.subject_id), parsed, base, changed, view
            )
        elif want.kind is ItemKind.REVIEW:
            moved = self._review_edited(link, view.plan, want, parsed, base, changed)
        else:
            self._note_plan(want.subject_id, partial(
                Plan.note_calendar_edit, link=link, item=f"review held ({want.uid})",
                fields=_names(changed)))  # fmt: skip
            moved = True
        return overwrite, moved

    def _milestone_edited(
        self,
        link: CalendarLink,
        milestone: Milestone,
        parsed: Parsed,
        base: dict[str, str],
        changed: set[str],
        view: PlanView,
    ) -> bool:
        """A remote edit of a milestone's event: a move comes back, anything else is noted."""
        others = set(changed) - {"DTSTART", "DTEND"}
        if "DTEND" in changed and "DTSTART" not in changed:
            others.add("DTEND")
        if "DTSTART" in changed:
            zone = view.plan.timezone
            remote_due = (
                start_day(parsed.fields["DTSTART"], zone) if "DTSTART" in parsed.fields else None
            )
            base_due = start_day(base["DTSTART"], zone) if "DTSTART" in base else None
            local_due = milestone.due
            if remote_due is None or remote_due == base_due or not link.two_way:
                others.add("DTSTART")
            elif remote_due != local_due:
                if local_due != base_due:
                    self._milestone_conflict(link, milestone, remote_due)
                elif milestone.status == MilestoneStatus.PLANNED:
                    self.app.reschedule(
                        milestone.id, remote_due, reason=link.moved_reason, actor=link.actor
                    )
                    log.info(
                        "calendar %s moved milestone %s to %s", link.name, milestone.id, remote_due
                    )
                else:
                    others.add("DTSTART")
        if others:
            self._note_milestone(
                milestone.id,
                partial(Milestone.note_calendar_edit, link=link, fields=_names(others)),
            )
        return True

    def _milestone_conflict(
        self, link: CalendarLink, milestone: Milestone, remote_due: date
    ) -> None:
        calendar_may_win = milestone.status == MilestoneStatus.PLANNED
        wins = link.conflict_policy is ConflictPolicy.CALENDAR_WINS and calendar_may_win
        winner = Winner.CALENDAR if wins else Winner.PLAN
        self._note_milestone(milestone.id, partial(
            Milestone.note_calendar_conflict, link=link, plan_due=milestone.due,
            calendar_due=remote_due, winner=winner))  # fmt: skip
        if wins:
            self.app.reschedule(
                milestone.id, remote_due, reason=link.moved_reason, actor=link.actor
            )
        log.info(
            "calendar %s: milestone %s moved on both sides; the %s won",
            link.name,
            milestone.id,
            winner,
        )

    def _review_edited(
        self,
        link: CalendarLink,
        plan: Plan,
        want: Wanted,
        parsed: Parsed,
        base: dict[str, str],
        changed: set[str],
    ) -> bool:
        """A moved occurrence (an override's start) comes back; other changes are noted."""
        others = {key for key in changed if not key.startswith("@")}
        for key in sorted(k for k in changed if k.startswith("@") and k.endswith("/DTSTART")):
            occurrence_start = key[1:].split("/", 1)[0]
            remote = parsed.fields.get(key)
            written = base.get(key, occurrence_start)
            if remote is None or remote == written:
                continue
            local = want.fields.get(key, occurrence_start)
            if remote == local:
                continue
            if not link.two_way:
                others.add("RECURRENCE")
                continue
            occurrence = start_moment(occurrence_start, plan.timezone)[0]
            new_date, new_time = start_moment(remote, plan.timezone)
            wins = local == written or link.conflict_policy is ConflictPolicy.CALENDAR_WINS
            if local != written:
                winner = Winner.CALENDAR if wins else Winner.PLAN
                plan_value = " ".join(map(str, start_moment(local, plan.timezone)))
                self._note_plan(plan.id, partial(
                    Plan.note_calendar_conflict, link=link, item=f"review on {occurrence}",
                    plan_value=plan_value, calendar_value=f"{new_date} {new_time}", winner=winner,
                ))  # fmt: skip
            if wins:
                try:
                    self.app.move_review_occurrence(
                        plan.id, occurrence, new_date=new_date, new_time=new_time,
                        actor=link.actor, reason=link.moved_reason,
                    )  # fmt: skip
                except ReviewOccurrenceNotFound:
                    others.add("RECURRENCE-ID")
        if others:
            self._note_plan(
                plan.id,
                partial(Plan.note_calendar_edit, link=link, item="review", fields=_names(others)),
            )
        return True

    def _note_deleted(self, link: CalendarLink, want: Wanted) -> None:
        log.info("calendar %s: %s was deleted there; putting it back", link.name, want.uid)
        if want.kind is ItemKind.MILESTONE:
            self._note_milestone(
                want.subject_id, partial(Milestone.note_calendar_deletion, link=link)
            )
        else:
            item = "review" if want.kind is ItemKind.REVIEW else f"review held ({want.uid})"
            self._note_plan(
                want.subject_id, partial(Plan.note_calendar_deletion, link=link, item=item)
            )

    def _note_milestone(self, milestone_id: UUID, note: Callable[[Milestone], None]) -> None:
        self.app.note_from_calendar(milestone_id, note)

    def _note_plan(self, plan_id: UUID, note: Callable[[Plan], None]) -> None:
        self.app.note_from_calendar(plan_id, note)

    # Push.

    def _push(
        self,
        session: DavSession,
        link: CalendarLink,
        view: PlanView,
        wanted: dict[str, Wanted],
        items: dict[str, ItemState],
        report: PassReport,
    ) -> int:
        """Writes what differs; returns how many objects are in sync."""
        writes = [
            (want, items.get(uid)) for uid, want in wanted.items()
            if not _in_sync(want, items.get(uid))
        ]  # fmt: skip
        deletes = [(uid, item) for uid, item in items.items() if uid not in wanted]
        total = len(writes) + len(deletes)
        if not total:
            return len(wanted)
        progress = (
            self._progress(f"calendar {link.name}", total) if total >= PROGRESS_FROM else None
        )
        done: list[ItemState] = []
        removed: list[str] = []
        replan = False
        try:
            for want, item in writes:
                state, moved = self._write(session, link, view, want, item)
                replan = replan or moved
                if state is not None:
                    done.append(state)
                    report.written += 1
                if progress:
                    progress.advance()
                if len(done) >= self.settings.batch:
                    self.state.record(link.id, done)
                    done = []
            for uid, item in deletes:
                if item.present:
                    self._delete(session, uid, item)
                    report.deleted += 1
                removed.append(uid)
                if progress:
                    progress.advance()
        finally:
            self.state.record(link.id, done, removed)
            if progress:
                progress.close()
        if replan:
            raise _Replan
        items_now = self.state.items(link.id)
        return sum(_in_sync(want, items_now.get(uid)) for uid, want in wanted.items())

    def _write(
        self,
        session: DavSession,
        link: CalendarLink,
        view: PlanView,
        want: Wanted,
        item: ItemState | None,
    ) -> tuple[ItemState | None, bool]:
        """One object made to match the plan; the state to record, and whether the plan moved."""
        name = resource_name(want.uid)
        etag = item.etag if item is not None and item.present else None
        for _ in range(3):
            response = session.put(name, want.body, etag=etag)
            if response.status in _SUCCESS:
                return ItemState(want.uid, response.etag, want.digest, True, want.base), False
            if response.status in _ITEM_REFUSED:
                log.error("calendar %s refused %s: HTTP %d", link.name, name, response.status)
                return None, False
            if response.status not in (404, 412):
                raise ProtocolError(f"PUT {name} answered HTTP {response.status}")
            if response.status == 404 and etag is None:
                raise ProtocolError(f"the calendar collection {session.url} does not exist")
            current = session.get(name)
            if current.status == 404:  # deleted there since we wrote it
                if item is not None and item.present:
                    self._note_deleted(link, want)
                    return ItemState(want.uid, None, None, False, item.base), True
                etag = None
                continue
            if current.status != 200:
                raise ProtocolError(f"GET {name} answered HTTP {current.status}")
            judged, moved = self._judge(link, view, want, item, current)
            if moved or judged.digest is not None:
                return judged, moved
            etag = current.etag
        log.warning("calendar %s: %s kept changing under us; next pass", link.name, name)
        return None, False

    def _delete(self, session: DavSession, uid: str, item: ItemState) -> None:
        """Removes one object of ours; a version edited there meanwhile goes too (it is ours)."""
        name = resource_name(uid)
        response = session.delete(name, etag=item.etag)
        if response.status == 412:
            response = session.delete(name, etag=None)
        if response.status not in (*_SUCCESS, 404):
            raise ProtocolError(f"DELETE {name} answered HTTP {response.status}")


def _due(link: LinkState, now: datetime, only_waiting: bool) -> bool:
    """Whether a pass should take up the link now: changes wait (or every link is read), and
    no backoff holds it."""
    if only_waiting and not link.needs_push:
        return False
    return link.next_attempt_at is None or link.next_attempt_at <= now


def _in_sync(want: Wanted, item: ItemState | None) -> bool:
    return item is not None and item.present and item.digest == want.digest


def _names(fields: set[str]) -> tuple[str, ...]:
    """Field names as the history shows them: `summary`, `dtstart`, `review on ...` overrides."""
    return tuple(sorted(name.lower() for name in fields))
