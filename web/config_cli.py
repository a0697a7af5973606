"""`leanplan check-config` and `leanplan rotate-secret-key`: the settings of a deployment.

check-config prints every setting on stdout (secrets hidden, defaults marked) and one
`leanplan: error: NAME: ...` line on stderr per problem, and exits 1 when there is one, so a start
script can run it before anything else (deploy/compose.yaml does).
"""

from __future__ import annotations

import argparse
import os
import sys

from adapters.bootstrap import open_leanplan
from adapters.caldav_state import SideDatabase
from adapters.config import (
    DATABASE_URL,
    OLD_SECRET_KEY,
    SECRET_KEY,
    SETTINGS,
    SettingError,
    check,
    connect,
)
from adapters.key_rotation import rotate_link_secrets
from adapters.secrets import cipher
from adapters.store import ConfigurationError

PROG = "leanplan"


def add_check_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = "settings (deploy/env.example has more):\n" + "\n".join(
        f"  {setting.name}: {setting.meaning}" for setting in SETTINGS
    )
    parser.add_argument(
        "--connect",
        action="store_true",
        help="also connect to the store named by DATABASE_URL (changes nothing)",
    )


def run_check_config(args: argparse.Namespace) -> int:
    """Shows the settings and says what is wrong with them; 1 when anything is."""
    findings = check(os.environ)
    width = max(len(finding.setting.name) for finding in findings)
    for finding in findings:
        origin = " (default)" if finding.is_default else ""
        print(f"{finding.setting.name:<{width}}  {finding.shown}{origin}")
    problems = [(f.setting.name, f.problem) for f in findings if f.problem is not None]
    if args.connect and DATABASE_URL.name not in dict(problems):
        try:
            print(f"{'store':<{width}}  {connect(DATABASE_URL.text(os.environ))}")
        except SettingError as error:
            problems.append((DATABASE_URL.name, str(error)))
    for name, problem in problems:
        print(f"{PROG}: error: {name}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("configuration ok")
    return 0


def run_rotate_secret_key(args: argparse.Namespace) -> int:
    """Moves every calendar password from the old key to the new; 1 if one opens with neither."""
    new_key = SECRET_KEY.value(os.environ)
    old_key = OLD_SECRET_KEY.text(os.environ)
    if not old_key:
        raise ConfigurationError(
            f"{OLD_SECRET_KEY.name}: not set; set it to the key used until now, and "
            f"{SECRET_KEY.name} to the new one"
        )
    if old_key == new_key:
        raise ConfigurationError(
            f"{OLD_SECRET_KEY.name}: the same as {SECRET_KEY.name}, so nothing would change"
        )
    with open_leanplan() as app:
        rotation = rotate_link_secrets(SideDatabase(app), cipher(old_key), cipher(new_key))
    for link_id in rotation.unreadable:
        print(
            f"{PROG}: error: calendar link {link_id}: neither key opens its password; "
            "link the calendar again",
            file=sys.stderr,
        )
    print(
        f"{rotation.rotated} calendar passwords re-encrypted under the new key, "
        f"{rotation.already_new} were already, {len(rotation.unreadable)} unreadable"
    )
    print(
        f"next: run every process with the new {SECRET_KEY.name} and without "
        f"{OLD_SECRET_KEY.name}; everybody signs in again"
    )
    return 1 if rotation.unreadable else 0
