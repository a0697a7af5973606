"""API fixtures: a Leanplan on a fresh SQLite file, the app around it, and callers with tokens.

Four users, so every access rule has someone to test it: alice owns the plan, bob edits it,
carol views it and dave is not a member.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adapters.bootstrap import open_leanplan
from adapters.credentials import register_user
from domain.application import Leanplan
from tests.api.support import Caller, milestone_body
from web import create_app

USERS = ("alice", "bob", "carol", "dave")


@pytest.fixture
def leanplan(tmp_path: Path) -> Iterator[Leanplan]:
    application = open_leanplan(f"sqlite:///{tmp_path / 'api.sqlite3'}")
    yield application
    application.close()


@pytest.fixture
def tokens(leanplan: Leanplan) -> dict[str, str]:
    return {
        name: register_user(leanplan, name, email=f"{name}@example.org", actor="test")
        for name in USERS
    }


@pytest.fixture
def app(leanplan: Leanplan) -> Flask:
    return create_app({"LEANPLAN_APP": leanplan, "TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def alice(client: FlaskClient, tokens: dict[str, str]) -> Caller:
    return Caller(client, tokens["alice"])


@pytest.fixture
def bob(client: FlaskClient, tokens: dict[str, str]) -> Caller:
    return Caller(client, tokens["bob"])


@pytest.fixture
def carol(client: FlaskClient, tokens: dict[str, str]) -> Caller:
    return Caller(client, tokens["carol"])


@pytest.fixture
def dave(client: FlaskClient, tokens: dict[str, str]) -> Caller:
    return Caller(client, tokens["dave"])


@pytest.fixture
def anonymous(client: FlaskClient) -> Caller:
    return Caller(client, None)


@pytest.fixture
def plan_id(alice: Caller) -> UUID:
    """Alice's plan, with bob as editor and carol as viewer."""
    created = alice.post("/plans", json={"name": "Launch", "currency": "EUR"})
    assert created.status_code == 201, created.json
    plan = UUID(created.json["id"])
    for user, role in (("bob", "editor"), ("carol", "viewer")):
        added = alice.post(f"/plans/{plan}/members", json={"user": user, "role": role})
        assert added.status_code == 201, added.json
    return plan


@pytest.fixture
def milestone_id(alice: Caller, plan_id: UUID) -> UUID:
    added = alice.post(f"/plans/{plan_id}/milestones", json=milestone_body())
    assert added.status_code == 201, added.json
    return UUID(added.json["id"])


@pytest.fixture
def assumption_id(alice: Caller, plan_id: UUID) -> UUID:
    added = alice.post(
        f"/plans/{plan_id}/assumptions",
        json={"statement": "Teams will pay for reviews", "test": "ten interviews"},
    )
    assert added.status_code == 201, added.json
    return UUID(added.json["id"])


@pytest.fixture
def appends_nothing(leanplan: Leanplan) -> Callable[[UUID], AbstractContextManager[None]]:
    """`with appends_nothing(plan_id): ...` fails if the block appended an event to the plan."""

    @contextmanager
    def check(plan: UUID) -> Iterator[None]:
        before = len(list(leanplan.history(plan)))
        yield
        assert len(list(leanplan.history(plan))) == before, "a rejected request appended an event"

    return check
