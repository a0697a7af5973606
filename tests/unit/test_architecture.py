"""The domain stays pure: nothing under domain/ imports the outer layers or does I/O itself.

Keeping I/O out of the domain is what lets its rules be tested in microseconds with hypothesis and
swapped between SQLite, PostgreSQL and CalDAV without touching them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOMAIN_PACKAGE = "domain"

FORBIDDEN_TOP_LEVEL = frozenset(
    {
        # the outer layers of this project
        "adapters",
        "web",
        # frameworks and formats that belong to adapters/web
        "flask",
        "werkzeug",
        "jinja2",
        "gunicorn",
        "icalendar",
        "caldav",
        "marshmallow",
        # storage and network I/O
        "psycopg",
        "psycopg_pool",
        "sqlite3",
        "requests",
        "niquests",
        "urllib3",
        "socket",
        "urllib",
        "http",
    }
)


def _resolve(module: str | None, level: int, package: tuple[str, ...]) -> str | None:
    """The absolute dotted name an import refers to; None if a relative one climbs out of it."""
    if level == 0:
        return module
    if level > len(package):
        return None
    base = package[: len(package) - level + 1]
    return ".".join([*base, module] if module else base)


def import_violations(source: str, path: Path) -> list[str]:
    """The imports in ``source`` that the domain may not make.

    ``path`` is the file's path relative to the repo root (``domain/plan.py``); relative imports
    are resolved against it. Imports inside functions and ``if TYPE_CHECKING:`` count too.
    """
    package = path.with_suffix("").parts[:-1]
    violations: list[str] = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            resolved = _resolve(node.module, node.level, package)
            if resolved is None:
                violations.append(f"{path}:{node.lineno}: relative import climbs out of domain/")
                continue
            targets = [resolved]
        else:
            continue
        violations.extend(
            f"{path}:{node.lineno}: imports {target}"
            for target in targets
            if target.split(".")[0] in FORBIDDEN_TOP_LEVEL
        )
    return violations


def test_domain_imports_no_outer_layer_or_io_library() -> None:
    files = sorted((REPO_ROOT / DOMAIN_PACKAGE).rglob("*.py"))
    assert files, "domain/ has no Python files: the check would pass vacuously"
    violations = [
        violation
        for file in files
        for violation in import_violations(
            file.read_text(encoding="utf-8"), file.relative_to(REPO_ROOT)
        )
    ]
    assert violations == []


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("import flask", "domain/plan.py"),
        ("from flask import Flask", "domain/plan.py"),
        ("import os, socket", "domain/plan.py"),
        ("import urllib.request as r", "domain/plan.py"),
        ("from http import client", "domain/plan.py"),
        ("from psycopg.rows import dict_row", "domain/plan.py"),
        ("import adapters.store", "domain/plan.py"),
        ("from web.cli import main", "domain/plan.py"),
        ("def f():\n    import sqlite3\n", "domain/plan.py"),
        ("if TYPE_CHECKING:\n    import caldav\n", "domain/plan.py"),
        ("from .. import adapters", "domain/plan.py"),
        ("from ..web import app", "domain/plan.py"),
        ("from ...adapters import store", "domain/sub/mod.py"),
        ("from .... import anything", "domain/sub/mod.py"),
        ("from .. import x", "domain/__init__.py"),
    ],
)
def test_offending_source_is_caught(source: str, path: str) -> None:
    assert import_violations(source, Path(path))


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("from .errors import DomainError", "domain/plan.py"),
        ("from . import errors", "domain/plan.py"),
        ("from ..errors import DomainError", "domain/sub/mod.py"),
        ("from .sub import mod", "domain/__init__.py"),
        ("import decimal, datetime, uuid", "domain/plan.py"),
        ("from eventsourcing.domain import Aggregate", "domain/plan.py"),
        ("import flasky\nimport httpx_like_name", "domain/plan.py"),
        ("text = 'import flask'", "domain/plan.py"),
    ],
)
def test_allowed_source_passes(source: str, path: str) -> None:
    assert import_violations(source, Path(path)) == []


def test_unparsable_domain_source_is_an_error_not_a_pass() -> None:
    with pytest.raises(SyntaxError):
        import_violations("from flask import (", Path("domain/plan.py"))
