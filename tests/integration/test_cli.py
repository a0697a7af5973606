"""The `leanplan` command on real SQLite stores: in-process through `main`, and as a subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from adapters.bootstrap import open_leanplan
from adapters.credentials import verify_password, verify_token
from domain.history import plain
from domain.values import Person
from web.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
OWNER = Person("Ann", "ann@example.com")


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str

    @property
    def last_line(self) -> str:
        return self.out.splitlines()[-1]


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL for a fresh SQLite file, set for the command."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


Command = Callable[..., Run]
"""`leanplan(*argv, stdin="")`: runs the command in-process."""


@pytest.fixture
def leanplan(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Command:
    """Runs `leanplan ARGS` in-process with optional stdin; returns status, stdout and stderr."""

    def run(*argv: str, stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        status = main(list(argv))
        captured = capsys.readouterr()
        return Run(status, captured.out, captured.err)

    return run


def _plan_with_a_reschedule(url: str) -> tuple[UUID, datetime]:
    """A plan whose one milestone moved from 1 to 15 May; returns its id and a moment in between."""
    with open_leanplan(url) as app:
        plan_id = app.start_plan("Moves", actor="test")
        milestone = app.add_milestone(
            plan_id,
            title="Launch",
            kind="implementation",
            due=date(2025, 5, 1),
            budget="10",
            owner=OWNER,
            actor="test",
        )
        time.sleep(0.01)
        between = datetime.now(UTC)
        time.sleep(0.01)
        app.reschedule(milestone, date(2025, 5, 15), reason="Supplier late", actor="test")
    return plan_id, between


# Setting up.


def test_init_creates_the_store_and_says_where(
    leanplan: Command, store: str, tmp_path: Path
) -> None:
    result = leanplan("init")
    assert result == Run(0, f"store ready: SQLite file {tmp_path / 'cli.sqlite3'}\n", "")
    assert (tmp_path / "cli.sqlite3").exists()


def test_users_add_prints_the_token_last_and_stores_only_hashes(
    leanplan: Command, store: str
) -> None:
    argv = "users add alice --email alice@example.com --password-stdin".split()
    result = leanplan(*argv, stdin="correct horse\n")
    assert result.status == 0 and result.err == ""
    token = result.last_line
    with open_leanplan(store) as app:
        user = app.user("alice")
        assert verify_token(app, token) == user
        assert verify_password("correct horse", user.password_hash)
        assert token not in (user.token_hash, user.password_hash)


def test_users_add_without_password(leanplan: Command, store: str) -> None:
    result = leanplan("users", "add", "bob", "--email", "bob@example.com")
    with open_leanplan(store) as app:
        assert verify_token(app, result.last_line) == app.user("bob")
        assert app.user("bob").password_hash is None


def test_users_add_if_missing_keeps_an_existing_user_and_their_token(
    leanplan: Command, store: str
) -> None:
    first = leanplan("users", "add", "carol", "--email", "carol@example.com", "--if-missing")
    again = leanplan("users", "add", "carol", "--email", "other@example.com", "--if-missing")
    assert again.status == 0 and again.out == "user carol exists already; nothing changed\n"
    with open_leanplan(store) as app:
        assert verify_token(app, first.last_line) == app.user("carol")
        assert app.user("carol").email == "carol@example.com"
    taken = leanplan("users", "add", "carol", "--email", "carol@example.com")
    _assert_one_error_line(taken, 1, "the user name 'carol' is taken")


def test_sync_is_a_leanplan_command_and_needs_the_secret_key(
    leanplan: Command, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEANPLAN_SECRET_KEY", raising=False)
    assert "--poll-seconds" in leanplan("sync", "--help").out
    _assert_one_error_line(leanplan("sync", "--once"), 1, "LEANPLAN_SECRET_KEY")


def test_demo_prints_the_plan_id_last_and_if_empty_keeps_it(leanplan: Command, store: str) -> None:
    first = leanplan("demo")
    plan_id = UUID(first.last_line)
    again = leanplan("demo", "--if-empty")
    assert (again.status, UUID(again.last_line)) == (0, plan_id)
    listing = leanplan("plans")
    assert listing.out.splitlines()[1].split()[:2] == [str(plan_id), "Brewline"]
    assert len(listing.out.splitlines()) == 2


def test_demo_if_empty_loads_into_an_empty_store_and_size_grows_it(
    leanplan: Command, store: str
) -> None:
    plan_id = UUID(leanplan("demo", "--if-empty", "--size", "5").last_line)
    with open_leanplan(store) as app:
        assert sum(m.title.startswith("Workstream") for m in app.plan(plan_id).milestones) == 5
        assert {e.actor for e in app.history(plan_id)} == {"demo"}


def test_demo_owner_must_be_a_user_and_then_owns_the_history(leanplan: Command, store: str) -> None:
    assert leanplan("demo", "--owner", "carol").err == "leanplan: error: no such user\n"
    leanplan("users", "add", "carol", "--email", "carol@example.com")
    plan_id = UUID(leanplan("demo", "--owner", "carol").last_line)
    with open_leanplan(store) as app:
        assert {e.actor for e in app.history(plan_id)} == {"carol"}


# Reading.


def test_show_lists_milestones_budget_assumptions_and_reviews(
    leanplan: Command, store: str
) -> None:
    plan_id = leanplan("demo").last_line
    lines = leanplan("show", plan_id).out.splitlines()
    assert lines[0] == "Brewline — smart coffee subscriptions"
    assert lines[1].startswith(f"id {plan_id} · zone Europe/Berlin · currency EUR · version ")
    assert lines[4].split() == "KIND DUE ORIGINAL STATUS OWNER BUDGET ACTUAL SLIP TITLE".split()
    roasteries = next(line for line in lines if "Letters of intent" in line).split()
    assert roasteries[0] == "assumption" and roasteries[3] == "planned" and "+15d" in roasteries
    assert roasteries[1] != roasteries[2]
    done = next(line for line in lines if "Pre-order landing page test" in line)
    assert "done" in done and "2,500.00" in done and "2,180.40" in done
    assert "cancelled" in next(line for line in lines if "Native mobile app" in line)
    assert "Budget (EUR): planned 40,800.00, actual 2,180.40" in "\n".join(lines)
    assert any(line.strip().startswith("validated") for line in lines)
    assert sum(line.strip().startswith("next ") for line in lines) == 3
    assert any(line.strip().startswith("held ") for line in lines)


def test_show_as_of_a_moment_shows_the_plan_as_it_stood(leanplan: Command, store: str) -> None:
    plan_id, between = _plan_with_a_reschedule(store)
    naive_utc = between.replace(tzinfo=None).isoformat()
    berlin = between.astimezone(ZoneInfo("Europe/Berlin")).isoformat()
    then = leanplan("show", str(plan_id), "--as-of", naive_utc).out
    assert leanplan("show", str(plan_id), "--as-of", berlin).out == then
    assert "2025-05-01  2025-05-01  planned" in then
    assert "2025-05-15  2025-05-01  planned" in leanplan("show", str(plan_id)).out


def test_history_json_is_one_plain_entry_per_line(leanplan: Command, store: str) -> None:
    plan_id, _ = _plan_with_a_reschedule(store)
    lines = leanplan("history", str(plan_id), "--json").out.splitlines()
    entries = [json.loads(line) for line in lines]
    assert [e["type"] for e in entries] == ["PlanStarted", "MilestoneAdded", "MilestoneRescheduled"]
    assert [e["position"] for e in entries] == [1, 2, 3]
    moved = entries[2]
    assert moved["changes"] == {"due": {"old": "2025-05-01", "new": "2025-05-15"}}
    assert (moved["reason"], moved["actor"]) == ("Supplier late", "test")
    assert moved["plan_id"] == str(plan_id) and UUID(moved["milestone_id"])
    with open_leanplan(store) as app:
        assert [e["at"] for e in entries] == [plain(e.at) for e in app.history(plan_id)]


def test_history_table_names_subjects_reasons_and_changes(leanplan: Command, store: str) -> None:
    plan_id, _ = _plan_with_a_reschedule(store)
    header, *rows = leanplan("history", str(plan_id)).out.splitlines()
    columns = ["#", "WHEN", "(UTC)", "ACTOR", "EVENT", "SUBJECT", "REASON", "CHANGES"]
    assert header.split() == columns
    assert [row.split()[0] for row in rows] == ["1", "2", "3"]
    assert "MilestoneRescheduled  Launch  " in rows[2]
    assert rows[2].endswith("Supplier late  due 2025-05-01 → 2025-05-15")
    assert "title=Launch; " in rows[1] and "due=2025-05-01" in rows[1]


def test_changes_json_and_text_report_the_slip(leanplan: Command, store: str) -> None:
    plan_id, between = _plan_with_a_reschedule(store)
    since = between.isoformat()
    report = json.loads(leanplan("changes", str(plan_id), "--since", since, "--json").out)
    (slip,) = report["rescheduled"]
    assert (slip["title"], slip["days"], slip["reasons"]) == ("Launch", 14, ["Supplier late"])
    assert report["added"] == [] and report["budget"]["planned_delta"] == "0.00"
    since_start = json.loads(
        leanplan("changes", str(plan_id), "--since", "2000-01-01", "--json").out
    )
    assert [m["title"] for m in since_start["added"]] == ["Launch"]
    assert since_start["budget"]["planned_delta"] == "10.00"
    text = leanplan("changes", str(plan_id), "--since", since).out
    assert "Launch: 2025-05-01 → 2025-05-15 (+14 days) — Supplier late" in text


# Moving data.


def test_export_to_stdout_or_file_and_import_into_a_fresh_store(
    leanplan: Command, store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_id = leanplan("demo").last_line
    streamed = leanplan("export")
    assert streamed.err.startswith("exported ") and streamed.status == 0
    path = tmp_path / "plan.jsonl"
    assert leanplan("export", str(path)).status == 0
    assert path.read_text(encoding="utf-8") == streamed.out
    history, shown = leanplan("history", plan_id, "--json").out, leanplan("show", plan_id).out

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'copy.sqlite3'}")
    imported = leanplan("import", str(path))
    assert imported.status == 0 and imported.out.startswith("imported ")
    assert leanplan("history", plan_id, "--json").out == history
    assert leanplan("show", plan_id).out == shown


# Mistakes: one line on stderr, a non-zero status, no traceback.


def _assert_one_error_line(result: Run, status: int, message: str) -> None:
    assert (result.status, result.out) == (status, "")
    assert result.err.count("\n") == 1 and result.err.startswith("leanplan: error: ")
    assert message in result.err
    assert "Traceback" not in result.err


NO_PLAN = "00000000-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["show", NO_PLAN], 1, f"no plan {NO_PLAN}"),
        (["history", NO_PLAN, "--json"], 1, f"no plan {NO_PLAN}"),
        (["history", "not-a-uuid"], 2, "argument PLAN_ID: not a plan id: 'not-a-uuid'"),
        (["show", "{plan}", "--as-of", "yesterday"], 2, "argument --as-of: not an ISO date-time"),
        (["show", "{plan}", "--as-of", "1999-01-01"], 1, "the plan did not exist at that moment"),
        (["changes", "{plan}", "--since", "3pm"], 2, "argument --since: not an ISO date-time"),
        (["users", "add", "alice", "--email", "a@example.com"], 1, "the user name 'alice' is"),
        (["users", "add", "bob", "--email", "bob@"], 1, "not an email address: 'bob@'"),
        (["users", "add", "b b", "--email", "b@example.com"], 1, "a user name is 1 to 64 letters"),
        (["users", "add", "bob", "--email", "b@x.com", "--password-stdin"], 1, "a password has 8"),
        (["import", "{tmp}/missing.jsonl"], 1, "missing.jsonl: No such file or directory"),
        (["import", "{tmp}/good.jsonl"], 1, "the store already holds events"),
        (["export", "{tmp}/no/such/dir.jsonl"], 1, "dir.jsonl: No such file or directory"),
        (["demo", "--size", "-3"], 2, "argument --size: not a whole number ≥ 0: '-3'"),
        (["users"], 2, "the following arguments are required: SUBCOMMAND"),
        (["frobnicate"], 2, "argument COMMAND: invalid choice: 'frobnicate'"),
        ([], 2, "the following arguments are required: COMMAND"),
    ],
)
def test_user_mistakes_print_one_error_line(
    leanplan: Command, store: str, tmp_path: Path, argv: list[str], status: int, message: str
) -> None:
    plan_id = leanplan("demo").last_line
    leanplan("users", "add", "alice", "--email", "alice@example.com")
    leanplan("export", str(tmp_path / "good.jsonl"))
    argv = [arg.format(plan=plan_id, tmp=tmp_path) for arg in argv]
    _assert_one_error_line(leanplan(*argv), status, message)


def test_a_tampered_export_is_refused_with_its_line_and_imports_nothing(
    leanplan: Command, store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    leanplan("demo")
    path = tmp_path / "plan.jsonl"
    leanplan("export", str(path))
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(lines[:3] + lines[4:]), encoding="utf-8")  # line 4 deleted

    empty = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    monkeypatch.setenv("DATABASE_URL", empty)
    result = leanplan("import", str(path))
    _assert_one_error_line(result, 1, "export file broken at line 4: prev_sha256 does not match")
    with open_leanplan(empty) as app:
        assert app.recorder.max_notification_id() is None


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://localhost/db", "unsupported scheme 'mysql'"),
        ("sqlite://var/db", "three slashes"),
    ],
)
def test_a_bad_database_url_is_one_error_line(
    leanplan: Command, monkeypatch: pytest.MonkeyPatch, url: str, message: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)
    _assert_one_error_line(leanplan("plans"), 1, "DATABASE_URL: ")
    _assert_one_error_line(leanplan("init"), 1, message)


def _leanplan_process(url: str, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "web.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )


def test_end_to_end_in_a_subprocess(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'main.sqlite3'}"
    copy = f"sqlite:///{tmp_path / 'copy.sqlite3'}"

    def ok(*argv: str, stdin: str = "", at: str = url) -> str:
        done = _leanplan_process(at, *argv, stdin=stdin)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        return done.stdout

    assert "store ready" in ok("init")
    argv = "users add alice --email alice@example.com --password-stdin".split()
    added = ok(*argv, stdin="s3cret-pass\n")
    token = added.splitlines()[-1]
    assert token.startswith("lp_")
    plan_id = ok("demo").splitlines()[-1]
    shown = ok("show", plan_id)
    history = ok("history", plan_id, "--json")
    changes = json.loads(ok("changes", plan_id, "--json"))
    assert [m["title"] for m in changes["cancelled"]] == ["Native mobile app MVP"]
    ok("export", str(tmp_path / "all.jsonl"))

    ok("init", at=copy)
    ok("import", str(tmp_path / "all.jsonl"), at=copy)
    assert ok("history", plan_id, "--json", at=copy) == history
    assert ok("show", plan_id, at=copy) == shown
    with open_leanplan(copy) as app:
        user = verify_token(app, token)
        assert user is not None and verify_password("s3cret-pass", user.password_hash)

    failed = _leanplan_process(url, "show", "nonsense")
    assert (failed.returncode, failed.stdout) == (2, "")
    assert failed.stderr == "leanplan: error: argument PLAN_ID: not a plan id: 'nonsense'\n"
