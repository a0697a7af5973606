"""The `leanplan` command: set up the store, add users, load the demo, read plans, move data.

Thin by design: parse arguments, call the application or an adapter, print. Every mistake a user
can make ends as one `leanplan: error: ...` line on stderr (mapped in `_USER_ERRORS`), never a
traceback; anything else is a bug and is allowed to show one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NoReturn, TextIO
from uuid import UUID
from zoneinfo import ZoneInfo

from eventsourcing.persistence import OperationalError

from adapters.bootstrap import describe_store, open_leanplan, resolve_database_url
from adapters.credentials import PasswordRejected, register_user
from adapters.demo import load_demo
from adapters.store import ConfigurationError
from adapters.transfer import TransferError, export, import_
from domain.application import Leanplan
from domain.errors import DomainError, UserNotFound
from domain.history import ChangesReport, HistoryEntry, plain
from domain.milestone import Milestone
from domain.plan import Assumption
from domain.views import PlanView, budget_report
from web.config_cli import add_check_config_arguments, run_check_config, run_rotate_secret_key
from web.sync_cli import add_arguments as add_sync_arguments
from web.sync_cli import run_sync

PROG = "leanplan"
CLI_ACTOR = "cli"
"""Who the history names for users added from the command line."""
DEMO_ACTOR = "demo"
"""Who the demo plan's history names, and so its owner, unless `demo --owner` names a user."""

USAGE_EXIT = 2
ERROR_EXIT = 1


class UsageError(Exception):
    """The command line itself is wrong (unknown option, bad value); exits 2 like argparse."""


class _Parser(argparse.ArgumentParser):
    """Reports usage mistakes as exceptions, so `main` prints them like every other error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


_USER_ERRORS: tuple[type[Exception], ...] = (
    UsageError,
    DomainError,
    ConfigurationError,
    TransferError,
    PasswordRejected,
    OperationalError,
    OSError,
)


def main(argv: list[str] | None = None) -> int:
    """Runs one command; returns the process exit status."""
    try:
        args = _parser().parse_args(argv)
        return int(args.run(args))
    except BrokenPipeError:  # `leanplan history ID | head`: the reader left, which is no error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except _USER_ERRORS as error:
        print(f"{PROG}: error: {_one_line(error)}", file=sys.stderr)
        return USAGE_EXIT if isinstance(error, UsageError) else ERROR_EXIT
    except SystemExit as done:  # --help ends here; keep main's contract of returning the status
        return done.code if isinstance(done.code, int) else 0
    except KeyboardInterrupt:
        return 130


def _one_line(error: Exception) -> str:
    if isinstance(error, OperationalError):
        return f"the store did not answer ({error}); check DATABASE_URL"
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split())


# Arguments.


def _plan_id(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a plan id: {text!r}") from None


def _moment(text: str) -> datetime:
    """An ISO 8601 date-time; without a zone it is UTC, as the history shows times in UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO date-time: {text!r} (e.g. 2025-03-14T09:30 or 2025-03-14T09:30+01:00)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a whole number ≥ 0: {text!r}")
    return int(text)


def _parser() -> _Parser:
    parser = _Parser(prog=PROG, description="Keep a Lean Plan as an auditable history of changes.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], int], help: str) -> _Parser:
        sub: _Parser = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(run=run)
        return sub

    command("init", _init, "create the store named by DATABASE_URL")
    users = commands.add_parser("users", help="manage users", description="manage users")
    users_commands = users.add_subparsers(dest="users_command", required=True, metavar="SUBCOMMAND")
    add = users_commands.add_parser("add", help="add a user and print their API token (last line)")
    add.set_defaults(run=_users_add)
    add.add_argument("name")
    add.add_argument("--email", required=True)
    add.add_argument("--password-stdin", action="store_true", help="read a password from stdin")
    add.add_argument(
        "--if-missing", action="store_true", help="succeed without change when the user exists"
    )
    demo = command("demo", _demo, "load the demo plan and print its id (last line)")
    demo.add_argument("--if-empty", action="store_true", help="only when no plan exists yet")
    demo.add_argument("--size", type=_count, default=0, help="add N generated milestones")
    demo.add_argument("--owner", metavar="USER", help="an existing user who owns the plan")
    command("plans", _plans, "list the plans")
    show = command("show", _show, "show a plan now, or as it stood at a moment")
    show.add_argument("plan_id", type=_plan_id, metavar="PLAN_ID")
    show.add_argument("--as-of", type=_moment, metavar="ISO-DATETIME")
    history = command("history", _history, "every change to a plan, oldest first")
    history.add_argument("plan_id", type=_plan_id, metavar="PLAN_ID")
    history.add_argument("--json", action="store_true", help="one JSON object per line")
    changes = command("changes", _changes, "what changed since a moment (default: last review)")
    changes.add_argument("plan_id", type=_plan_id, metavar="PLAN_ID")
    changes.add_argument("--since", type=_moment, metavar="ISO-DATETIME")
    changes.add_argument("--json", action="store_true")
    export_command = command("export", _export, "write every event as hash-chained JSON lines")
    export_command.add_argument("file", nargs="?", metavar="FILE", help="default: stdout")
    import_command = command("import", _import, "load an export into an empty store")
    import_command.add_argument("file", metavar="FILE")
    sync = command("sync", run_sync, "sync plans with their linked CalDAV calendars")
    add_sync_arguments(sync)
    check_config = command(
        "check-config", run_check_config, "check the settings in the environment (1 on a problem)"
    )
    add_check_config_arguments(check_config)
    command(
        "rotate-secret-key",
        run_rotate_secret_key,
        "re-encrypt calendar passwords from LEANPLAN_OLD_SECRET_KEY to LEANPLAN_SECRET_KEY",
    )
    serve = command("serve", _serve, "run the web server")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    return parser


# Commands.


def _init(args: argparse.Namespace) -> int:
    with open_leanplan():
        print(f"store ready: {describe_store()}")
    return 0


def _users_add(args: argparse.Namespace) -> int:
    password = _read_password(sys.stdin) if args.password_stdin else None
    with open_leanplan() as app:
        if args.if_missing and _user_exists(app, args.name):
            print(f"user {args.name} exists already; nothing changed")
            return 0
        token = register_user(app, args.name, email=args.email, password=password, actor=CLI_ACTOR)
    print(f"user {args.name} added; their API token (shown only this once):")
    print(token)
    return 0


def _user_exists(app: Leanplan, name: str) -> bool:
    try:
        app.user(name)
    except UserNotFound:
        return False
    return True


def _read_password(stream: TextIO) -> str:
    """The whole of stdin minus its line ending, as `echo pw | leanplan ...` appends one."""
    return stream.read().rstrip("\r\n")


def _demo(args: argparse.Namespace) -> int:
    with open_leanplan() as app:
        existing = app.plan_ids()
        if args.if_empty and existing:
            print("a plan exists already; the demo was not loaded")
            print(existing[0])
            return 0
        if args.owner is not None:
            app.user(args.owner)
        plan_id = load_demo(app, actor=args.owner or DEMO_ACTOR, size=args.size)
        print(f"loaded the demo plan {app.plan(plan_id).plan.name!r}")
    print(plan_id)
    return 0


def _plans(args: argparse.Namespace) -> int:
    with open_leanplan() as app:
        plans = app.plans()
    if not plans:
        print(f"no plans yet; `{PROG} demo` loads one")
        return 0
    rows = [[str(p.id), p.name, p.timezone, p.currency] for p in plans]
    _print_lines(_table(["ID", "NAME", "ZONE", "CURRENCY"], rows))
    return 0


def _show(args: argparse.Namespace) -> int:
    with open_leanplan() as app:
        view = app.plan_as_of(args.plan_id, at=args.as_of) if args.as_of else app.plan(args.plan_id)
    moment = args.as_of or datetime.now(UTC)
    _print_lines(plan_lines(view, moment))
    return 0


def _history(args: argparse.Namespace) -> int:
    with open_leanplan() as app:
        entries = list(app.history(args.plan_id))
        if args.json:
            _print_lines(_json(history_json(entry)) for entry in entries)
        else:
            _print_lines(history_lines(entries, _subject_names(app.plan(args.plan_id))))
    return 0


def _changes(args: argparse.Namespace) -> int:
    with open_leanplan() as app:
        report = app.changes(args.plan_id, since=args.since)
        currency = app.plan(args.plan_id).plan.currency
    _print_lines([_json(changes_json(report))] if args.json else changes_lines(report, currency))
    return 0


def _export(args: argparse.Namespace) -> int:
    with open_leanplan() as app:
        if args.file is None:
            count = export(app, sys.stdout)
            print(f"exported {count} events", file=sys.stderr)
            return 0
        with open(args.file, "w", encoding="utf-8", newline="\n") as out:
            count = export(app, out)
    print(f"exported {count} events to {args.file}")
    return 0


def _import(args: argparse.Namespace) -> int:
    # surrogateescape: bytes that are not UTF-8 reach the chain check and fail on their own line
    with open(args.file, encoding="utf-8", errors="surrogateescape") as in_, open_leanplan() as app:
        count = import_(app, in_)
    print(f"imported {count} events into {describe_store()}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from web.server import serve  # gunicorn is only worth importing for this command

    serve(host=args.host, port=args.port, database_url=resolve_database_url(None, os.environ))
    return 0


# Output.


def plan_lines(view: PlanView, moment: datetime) -> list[str]:
    """The plan as a person reads it: header, milestones, budget, assumptions, reviews."""
    plan = view.plan
    today = moment.astimezone(ZoneInfo(plan.timezone)).date()
    lines = [
        plan.name,
        f"id {plan.id} · zone {plan.timezone} · currency {plan.currency} · version {view.version}",
        "",
        "Milestones",
    ]
    milestones = sorted(view.milestones, key=lambda m: (m.due, m.title, str(m.id)))
    lines += _indent(_table(_MILESTONE_HEADERS, [_milestone_row(m) for m in milestones]))
    lines += ["", _budget_line(view), "", "Assumptions"]
    lines += _indent([_assumption_line(a) for a in plan.assumptions] or ["none"])
    cadence = plan.cadence
    lines += [
        "",
        f"Reviews: {cadence.rrule} at {cadence.start_time:%H:%M} for "
        f"{cadence.duration_minutes} min ({plan.timezone})",
    ]
    lines += _indent(f"next {day.isoformat()} {at:%H:%M}" for day, at in view.next_reviews(today))
    lines += _indent(f"held {r.held_on.isoformat()}: {r.notes}" for r in plan.reviews)
    return lines


def _assumption_line(assumption: Assumption) -> str:
    evidence = f" — {assumption.evidence}" if assumption.evidence else ""
    return f"{assumption.status.value:<11} {assumption.statement}{evidence}"


_MILESTONE_HEADERS = "KIND DUE ORIGINAL STATUS OWNER BUDGET ACTUAL SLIP TITLE".split()


def _milestone_row(milestone: Milestone) -> list[str]:
    return [
        milestone.kind.value,
        milestone.due.isoformat(),
        milestone.original_due.isoformat(),
        milestone.status.value,
        milestone.owner.name,
        _money(milestone.budget),
        _actual(milestone),
        f"{milestone.slip_days:+d}d" if milestone.slip_days else "",
        milestone.title,
    ]


def _budget_line(view: PlanView) -> str:
    report = budget_report(view)
    per_kind = report.per_kind.items()
    kinds = ", ".join(f"{kind.value} {_money(line.planned)}" for kind, line in per_kind)
    return (
        f"Budget ({report.currency}): planned {_money(report.total.planned)}, "
        f"actual {_money(report.total.actual)} ({kinds})"
    )


def history_lines(entries: Iterable[HistoryEntry], names: dict[UUID, str]) -> list[str]:
    """One row per change; long texts are cut short here (`--json` has them whole)."""
    headers = ("#", "WHEN (UTC)", "ACTOR", "EVENT", "SUBJECT", "REASON", "CHANGES")
    rows = [
        [
            str(entry.position),
            entry.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
            entry.actor,
            entry.type,
            _short(names.get(entry.milestone_id or entry.assumption_id or entry.plan_id, "")),
            _short(entry.reason or ""),
            _changes_text(entry),
        ]
        for entry in entries
    ]
    return _table(headers, rows)


def history_json(entry: HistoryEntry) -> dict[str, Any]:
    return {
        "position": entry.position,
        "at": plain(entry.at),
        "actor": entry.actor,
        "type": entry.type,
        "plan_id": plain(entry.plan_id),
        "milestone_id": plain(entry.milestone_id),
        "assumption_id": plain(entry.assumption_id),
        "changes": {name: {"old": c.old, "new": c.new} for name, c in entry.changes.items()},
        "reason": entry.reason,
    }


def _changes_text(entry: HistoryEntry) -> str:
    """`field old → new` for changes, `field=value` for what an event states afresh."""
    parts = []
    for name, change in entry.changes.items():
        new = _short(_shown(change.new))
        if change.old is None:
            parts.append(f"{name}={new}")
        else:
            parts.append(f"{name} {_short(_shown(change.old))} → {new}")
    return "; ".join(parts)


def _subject_names(view: PlanView) -> dict[UUID, str]:
    """What a history line is about, by id: milestone titles, assumption statements, the plan."""
    names = {view.plan.id: view.plan.name}
    names.update({m.id: m.title for m in view.milestones})
    names.update({a.id: a.statement for a in view.plan.assumptions})
    return names


def changes_json(report: ChangesReport) -> dict[str, Any]:
    return {
        "since": plain(report.since),
        "until": plain(report.until),
        "added": [_milestone_json(m) for m in report.added],
        "completed": [_milestone_json(m) for m in report.completed],
        "cancelled": [_milestone_json(m) for m in report.cancelled],
        "rescheduled": [
            {
                "milestone_id": plain(s.milestone_id),
                "title": s.title,
                "old_due": plain(s.old_due),
                "new_due": plain(s.new_due),
                "days": s.days,
                "reasons": plain(s.reasons),
            }
            for s in report.rescheduled
        ],
        "budget": {
            "planned_before": plain(report.planned_budget_before),
            "planned_after": plain(report.planned_budget_after),
            "planned_delta": plain(report.planned_budget_delta),
            "actual_before": plain(report.actual_cost_before),
            "actual_after": plain(report.actual_cost_after),
            "actual_delta": plain(report.actual_cost_delta),
        },
        "assumptions_resolved": [
            {
                "assumption_id": plain(assumption_id),
                "statement": statement,
                "status": plain(status),
                "evidence": evidence,
            }
            for assumption_id, statement, status, evidence in report.assumptions_resolved
        ],
    }


def _milestone_json(milestone: Milestone) -> dict[str, Any]:
    return {
        "milestone_id": plain(milestone.id),
        "title": milestone.title,
        "kind": plain(milestone.kind),
        "due": plain(milestone.due),
        "status": plain(milestone.status),
        "budget": plain(milestone.budget),
        "actual_cost": plain(milestone.actual_cost),
    }


def changes_lines(report: ChangesReport, currency: str) -> list[str]:
    """The review report in reading order: what came, went and moved, then the money."""
    lines = [f"Changes from {plain(report.since)} to {plain(report.until)}"]
    lines += _section(
        "Added",
        [f"{m.title} ({m.kind.value}, due {m.due}, {_money(m.budget)})" for m in report.added],
    )
    lines += _section(
        "Completed",
        [f"{m.title} on {m.completed_on}, cost {_actual(m) or '?'}" for m in report.completed],
    )
    lines += _section("Cancelled", [m.title for m in report.cancelled])
    lines += _section(
        "Rescheduled",
        [
            f"{s.title}: {s.old_due} → {s.new_due} ({s.days:+d} days) — {'; '.join(s.reasons)}"
            for s in report.rescheduled
        ],
    )
    resolved = report.assumptions_resolved
    lines += _section(
        "Assumptions resolved",
        [f"{status.value}: {text} — {evidence}" for _, text, status, evidence in resolved],
    )
    planned = (
        report.planned_budget_before,
        report.planned_budget_after,
        report.planned_budget_delta,
    )
    actual = (report.actual_cost_before, report.actual_cost_after, report.actual_cost_delta)
    lines += ["", f"Budget ({currency}): planned {_delta(*planned)}, actual {_delta(*actual)}"]
    return lines


def _delta(before: Decimal, after: Decimal, delta: Decimal) -> str:
    return f"{_money(before)} → {_money(after)} ({delta:+,.2f})"


def _section(title: str, items: list[str]) -> list[str]:
    return ["", f"{title} ({len(items)})", *_indent(items)]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns two spaces apart; the last column (the longest text) is not padded."""
    lines = [headers, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(headers) - 1)]
    return ["  ".join([*map(str.ljust, line, widths), line[-1]]).rstrip() for line in lines]


def _indent(lines: Iterable[str]) -> list[str]:
    return [f"  {line}" for line in lines]


def _actual(milestone: Milestone) -> str:
    return "" if milestone.actual_cost is None else _money(milestone.actual_cost)


def _money(amount: Decimal) -> str:
    return f"{amount:,.2f}"


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


def _print_lines(lines: Iterable[str]) -> None:
    for line in lines:
        print(line)


if __name__ == "__main__":
    sys.exit(main())
