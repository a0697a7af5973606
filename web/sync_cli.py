"""`leanplan sync`: the calendar sync worker on the command line.

`leanplan sync --once` makes one pass over every calendar link and exits (non-zero if a link
failed, each failure on its own stderr line); `leanplan sync` runs until SIGTERM or SIGINT,
pushing local changes within `--push-seconds` and reading every calendar every
`--poll-seconds`. Settings come from the environment as for every command (DATABASE_URL,
LEANPLAN_SECRET_KEY, LEANPLAN_BASE_URL, LEANPLAN_SYNC_POLL_SECONDS, LEANPLAN_SYNC_PUSH_SECONDS,
LEANPLAN_LOG_FORMAT: text unless it says json).
Several workers may run at once on one store; each link is worked on by one at a time (see
adapters.caldav_locks), and `--once` says how many links it left to another worker.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import replace
from types import FrameType
from typing import NoReturn

from eventsourcing.persistence import PersistenceError

from adapters.bootstrap import open_leanplan
from adapters.caldav_state import UnsupportedStore
from adapters.caldav_sync import CalendarSync
from adapters.secrets import SecretKeyMissing
from adapters.store import ConfigurationError
from web.logs import LogFormat, configure_logging, log_format

PROG = "leanplan sync"
_USER_ERRORS = (ConfigurationError, SecretKeyMissing, UnsupportedStore, PersistenceError, OSError)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise ConfigurationError(message)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The worker's options, shared by `leanplan sync` and `python -m web.sync_cli`."""
    parser.add_argument("--once", action="store_true", help="one pass over every link, then exit")
    parser.add_argument("--poll-seconds", type=float, help="how often to read the calendars (60)")
    parser.add_argument(
        "--push-seconds", type=float, help="how often to look for local changes (1)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each pass")


def sync_main(argv: Sequence[str] | None = None) -> int:
    """Parses the worker's options and runs it; returns the exit status."""
    parser = _Parser(prog=PROG, description="Sync plans with their linked CalDAV calendars.")
    add_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except ConfigurationError as error:
        print(f"leanplan: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as done:  # --help
        return done.code if isinstance(done.code, int) else 0
    return run_sync(args)


def run_sync(args: argparse.Namespace) -> int:
    """Runs the worker; returns the exit status (1 for a failed link or a user mistake)."""
    try:
        configure_logging(
            log_format(os.environ, LogFormat.TEXT),
            logging.INFO if args.verbose else logging.WARNING,
            replace=False,
        )
        worker = CalendarSync.from_environ(open_leanplan())
    except _USER_ERRORS as error:
        return _failed(error)
    try:
        if args.poll_seconds or args.push_seconds:
            worker.settings = replace(
                worker.settings,
                poll_seconds=args.poll_seconds or worker.settings.poll_seconds,
                push_seconds=args.push_seconds or worker.settings.push_seconds,
            )
        if args.once:
            report = worker.sync_once()
            for link_id, message in report.failed.items():
                print(f"{PROG}: link {link_id}: {message}", file=sys.stderr)
            busy = f", {report.busy} held by another worker" if report.busy else ""
            print(
                f"{report.links} calendar links: {report.written} written, {report.deleted} deleted, "
                f"{report.fetched} fetched, {len(report.failed)} failed{busy}"
            )
            return 1 if report.failed else 0
        stop = threading.Event()

        def stop_on(signum: int, frame: FrameType | None) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, stop_on)
        signal.signal(signal.SIGINT, stop_on)
        worker.run(stop)
        return 0
    except _USER_ERRORS as error:
        return _failed(error)
    finally:
        worker.close()


def _failed(error: Exception) -> int:
    print(f"leanplan: error: {' '.join(str(error).split())}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(sync_main(sys.argv[1:]))
