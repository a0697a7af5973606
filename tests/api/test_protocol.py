"""What every route shares: bearer tokens, one error shape, If-Match, conflicts, and no 500s."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import OperationalError
from flask import Flask
from flask.testing import FlaskClient

from adapters.bootstrap import open_leanplan
from domain.application import Leanplan
from tests.api.support import Caller, errors, milestone_body

Unchanged = Callable[[UUID], AbstractContextManager[None]]


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer lp_nothex_secret",
        "Token abc",
    ],
)
def test_a_request_without_a_usable_token_is_unauthorized(
    client: FlaskClient, plan_id: UUID, appends_nothing: Unchanged, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    with appends_nothing(plan_id):
        response = client.post(
            f"/api/v1/plans/{plan_id}/assumptions", json={"statement": "s"}, headers=headers
        )

    assert "_request" in errors(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_that_is_not_current_is_unauthorized(
    client: FlaskClient, tokens: dict[str, str], plan_id: UUID
) -> None:
    forged = tokens["alice"][:-4] + "AAAA"

    response = client.get("/api/v1/plans", headers={"Authorization": f"Bearer {forged}"})

    errors(response, 401)
    assert "error=invalid_token" in response.headers["WWW-Authenticate"].replace('"', "")


def test_the_openapi_document_needs_no_token(anonymous: Caller) -> None:
    response = anonymous.get("/openapi.json")

    assert response.status_code == 200 and response.json["openapi"].startswith("3.")


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b'{"statement": }',
        b"\xff\xfe",
        b"[" * 100_000 + b"]" * 100_000,
        b'{"statement": "s",}',
    ],
)
def test_malformed_json_is_a_bad_request(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged, body: bytes
) -> None:
    with appends_nothing(plan_id):
        response = alice.post(
            f"/plans/{plan_id}/assumptions", data=body, content_type="application/json"
        )

    [message] = errors(response, 400)["_request"]
    assert message in {"Invalid JSON body.", "The JSON body is nested too deeply."}


@pytest.mark.parametrize("body", ["[]", '"statement"', "null", "42"])
def test_a_body_that_is_not_an_object_is_invalid(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged, body: str
) -> None:
    with appends_nothing(plan_id):
        found = errors(
            alice.post(f"/plans/{plan_id}/assumptions", data=body, content_type="application/json"),
            422,
        )

    assert found


def test_an_oversized_body_is_refused(
    alice: Caller, plan_id: UUID, appends_nothing: Unchanged
) -> None:
    body = json.dumps({"statement": "x" * 2_000_000})

    with appends_nothing(plan_id):
        errors(
            alice.post(f"/plans/{plan_id}/assumptions", data=body, content_type="application/json"),
            413,
        )


def test_unknown_routes_and_methods_answer_in_the_same_shape(alice: Caller, plan_id: UUID) -> None:
    errors(alice.get("/nowhere"), 404)
    errors(alice.delete(f"/plans/{plan_id}"), 405)


def test_the_plan_etag_moves_with_every_change(alice: Caller, plan_id: UUID) -> None:
    before = alice.get(f"/plans/{plan_id}").headers["ETag"]
    alice.post(f"/plans/{plan_id}/assumptions", json={"statement": "s"})
    after = alice.get(f"/plans/{plan_id}").headers["ETag"]

    assert before != after


@pytest.mark.parametrize("if_match", ["{etag}", "*", '"0", {etag}', "{bare}"])
def test_a_write_with_the_current_etag_goes_through(
    alice: Caller, plan_id: UUID, milestone_id: UUID, if_match: str
) -> None:
    etag = alice.get(f"/plans/{plan_id}").headers["ETag"]
    header = if_match.format(etag=etag, bare=etag.strip('"'))

    response = alice.post(
        f"/plans/{plan_id}/milestones/{milestone_id}/reschedule",
        json={"due": "2031-05-01", "reason": "r"},
        headers={"If-Match": header},
    )

    assert response.status_code == 200, response.json


@pytest.mark.parametrize("stale", ['"{old}"', 'W/"{now}"', '"garbage"'])
def test_a_write_with_a_stale_etag_is_refused(
    alice: Caller, plan_id: UUID, milestone_id: UUID, appends_nothing: Unchanged, stale: str
) -> None:
    version = int(alice.get(f"/plans/{plan_id}").headers["ETag"].strip('"'))
    header = stale.format(old=version - 1, now=version)

    with appends_nothing(plan_id):
        for response in (
            alice.post(
                f"/plans/{plan_id}/milestones/{milestone_id}/cancel",
                json={"reason": "r"},
                headers={"If-Match": header},
            ),
            alice.post(
                f"/plans/{plan_id}/members",
                json={"user": "dave", "role": "viewer"},
                headers={"If-Match": header},
            ),
            alice.delete(f"/plans/{plan_id}/members/bob", headers={"If-Match": header}),
        ):
            assert "_request" in errors(response, 412)


@pytest.fixture
def rival(tmp_path: Path) -> Iterator[Leanplan]:
    """A second application on the same database, as another server process would be."""
    other = open_leanplan(f"sqlite:///{tmp_path / 'api.sqlite3'}")
    yield other
    other.close()


def test_a_write_that_loses_a_race_is_a_conflict(
    alice: Caller,
    plan_id: UUID,
    milestone_id: UUID,
    leanplan: Leanplan,
    rival: Leanplan,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    save = leanplan.save

    def overtaken(*items: Any, **kwargs: Any) -> Any:
        """The rival changes the milestone after the API loaded it and before the API saves."""
        monkeypatch.setattr(leanplan, "save", save)
        rival.reschedule(milestone_id, date(2040, 1, 1), reason="meanwhile", actor="bob")
        return save(*items, **kwargs)

    before = len(list(leanplan.history(plan_id)))
    monkeypatch.setattr(leanplan, "save", overtaken)

    response = alice.post(
        f"/plans/{plan_id}/milestones/{milestone_id}/reschedule",
        json={"due": "2031-05-01", "reason": "r"},
    )

    assert "_request" in errors(response, 409)
    history = list(leanplan.history(plan_id))
    assert len(history) == before + 1 and history[-1].reason == "meanwhile"


def test_every_event_names_the_authenticated_user(
    alice: Caller, bob: Caller, plan_id: UUID, milestone_id: UUID, leanplan: Leanplan
) -> None:
    path = f"/plans/{plan_id}/milestones/{milestone_id}"
    calls: list[tuple[Caller, str, str, dict[str, Any]]] = [
        (bob, "PATCH", path, {"title": "T2"}),
        (bob, "POST", f"{path}/reschedule", {"due": "2031-06-01", "reason": "r"}),
        (bob, "POST", f"{path}/complete", {}),
        (bob, "POST", f"{path}/reopen", {"reason": "r"}),
        (bob, "POST", f"{path}/cancel", {"reason": "r"}),
        (bob, "POST", f"/plans/{plan_id}/milestones", milestone_body()),
        (bob, "POST", f"/plans/{plan_id}/assumptions", {"statement": "s"}),
        (
            bob,
            "PUT",
            f"/plans/{plan_id}/review-cadence",
            {"rrule": "FREQ=DAILY", "start_time": "08:00", "duration_minutes": 15},
        ),
        (bob, "POST", f"/plans/{plan_id}/reviews", {"held_on": "2031-01-01", "notes": "n"}),
        (alice, "POST", f"/plans/{plan_id}/members", {"user": "dave", "role": "viewer"}),
    ]
    before = len(list(leanplan.history(plan_id)))

    for caller, method, route, body in calls:
        assert caller.request(method, route, json=body).status_code in (200, 201)

    actors = [e.actor for e in list(leanplan.history(plan_id))[before:]]
    assert actors == ["bob"] * 9 + ["alice"]


def test_a_busy_store_asks_the_client_to_retry(
    alice: Caller, plan_id: UUID, leanplan: Leanplan, monkeypatch: pytest.MonkeyPatch
) -> None:
    def locked(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(leanplan, "authorize", locked)

    response = alice.get(f"/plans/{plan_id}")

    assert "_request" in errors(response, 503)
    assert response.headers["Retry-After"] == "1"


def test_an_unexpected_failure_answers_json_without_details(
    app: Flask, alice: Caller, plan_id: UUID, leanplan: Leanplan, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(leanplan, "authorize", broken)

    response = alice.get(f"/plans/{plan_id}")

    assert errors(response, 500) == {
        "_request": ["an unexpected error occurred; it has been logged"]
    }
