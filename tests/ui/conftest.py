"""Page fixtures: the app on an in-memory store, four users, and browsers signed in as each of them.

alice owns the plan, bob edits it, carol views it and dave is not a member, so every access rule
has someone to test it. Signing in through the form costs a password hash, so only the sign-in
tests do that; the others put the user into the session directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from functools import cache
from pathlib import Path
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adapters.bootstrap import open_leanplan
from adapters.credentials import hash_password, hash_token, new_token
from domain.application import Leanplan
from domain.users import user_id
from domain.values import Person
from tests.ui.support import CSRF, Browser
from web import create_app

PASSWORD = "correct horse battery"
USERS = ("alice", "bob", "carol", "dave")


@cache
def _password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture
def leanplan(tmp_path: Path) -> Iterator[Leanplan]:
    application = open_leanplan(f"sqlite:///{tmp_path / 'ui.sqlite3'}")
    for name in USERS:
        application.register_user(
            name,
            email=f"{name}@example.org",
            token_hash=hash_token(new_token(user_id(name))),
            password_hash=_password_hash(),
            actor="test",
        )
    yield application
    application.close()


@pytest.fixture
def app(leanplan: Leanplan) -> Flask:
    return create_app({"LEANPLAN_APP": leanplan, "TESTING": True, "SECRET_KEY": "test-secret"})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def browser_for(app: Flask) -> Callable[[str], Browser]:
    """A test client whose session says `name` is signed in, with a known CSRF token."""

    def signed_in(name: str) -> Browser:
        client = app.test_client()
        with client.session_transaction() as session:
            session["user"] = name
            session["csrf"] = CSRF
        return Browser(client)

    return signed_in


@pytest.fixture
def alice(browser_for: Callable[[str], Browser]) -> Browser:
    return browser_for("alice")


@pytest.fixture
def bob(browser_for: Callable[[str], Browser]) -> Browser:
    return browser_for("bob")


@pytest.fixture
def carol(browser_for: Callable[[str], Browser]) -> Browser:
    return browser_for("carol")


@pytest.fixture
def dave(browser_for: Callable[[str], Browser]) -> Browser:
    return browser_for("dave")


@pytest.fixture
def plan_id(leanplan: Leanplan) -> UUID:
    """Alice's plan, shared with bob as editor and carol as viewer."""
    plan = leanplan.start_plan("Launch", actor="alice", currency="EUR", timezone="Europe/Berlin")
    leanplan.add_member(plan, "bob", "editor", actor="alice")
    leanplan.add_member(plan, "carol", "viewer", actor="alice")
    return plan


@pytest.fixture
def milestone_id(leanplan: Leanplan, plan_id: UUID) -> UUID:
    return leanplan.add_milestone(
        plan_id,
        title="Pilot customer signed",
        kind="implementation",
        due=date(2031, 3, 14),
        budget="1500.00",
        owner=Person("Ada Owner", "ada@example.org"),
        actor="alice",
    )


@pytest.fixture
def assumption_id(leanplan: Leanplan, plan_id: UUID) -> UUID:
    return leanplan.add_assumption(
        plan_id, "Teams will pay for reviews", test="ten interviews", actor="alice"
    )


@pytest.fixture
def appends_nothing(leanplan: Leanplan) -> Callable[[UUID], AbstractContextManager[None]]:
    """`with appends_nothing(plan_id): ...` fails if the block appended an event to the plan."""

    @contextmanager
    def check(plan: UUID) -> Iterator[None]:
        before = len(list(leanplan.history(plan)))
        yield
        assert len(list(leanplan.history(plan))) == before, "a rejected form appended an event"

    return check
