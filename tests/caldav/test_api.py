"""The calendar-links API, and the password: stored encrypted, shown nowhere."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adapters.caldav_state import SideDatabase
from adapters.caldav_sync import CalendarSync
from adapters.credentials import register_user
from adapters.secrets import LinkSecrets, SecretUnreadable, cipher
from adapters.transfer import export
from domain.application import Leanplan
from tests.caldav.conftest import FAST, SECRET_KEY
from tests.caldav.support import CalendarApp, Radicale
from web import create_app

PASSWORD = "correct horse battery staple 7f3a"
PREFIX = "/api/v1"


@pytest.fixture
def web(app: Leanplan) -> Flask:
    return create_app({"LEANPLAN_APP": app, "TESTING": True, "LEANPLAN_SECRET_KEY": SECRET_KEY})


@pytest.fixture
def call(web: Flask, app: Leanplan) -> Callable[..., Any]:
    tokens = {
        name: register_user(app, name, email=f"{name}@example.org", actor="test")
        for name in ("ann", "vic", "out")
    }
    client: FlaskClient = web.test_client()

    def call(method: str, path: str, user: str = "ann", **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {tokens[user]}"}
        return client.open(PREFIX + path, method=method, headers=headers, **kwargs)

    return call


@pytest.fixture
def plan_id(call: Callable[..., Any]) -> str:
    plan = call("POST", "/plans", json={"name": "Launch"}).json["id"]
    assert (
        call("POST", f"/plans/{plan}/members", json={"user": "vic", "role": "viewer"}).status_code
        == 201
    )
    milestone = {
        "title": "Pilot", "kind": "implementation", "due": "2031-03-14", "budget": "10",
        "owner": {"name": "Ann", "email": "ann@example.org"},
    }  # fmt: skip
    assert call("POST", f"/plans/{plan}/milestones", json=milestone).status_code == 201
    return str(plan)


def _body(url: str, **changes: Any) -> dict[str, Any]:
    return {"name": "Team", "url": url, "username": "ann", "password": PASSWORD} | changes


def test_linking_answers_201_without_the_password_and_lists_the_state(
    call: Callable[..., Any], plan_id: str, collection: str, worker: CalendarSync
) -> None:
    created = call("POST", f"/plans/{plan_id}/calendar-links", json=_body(collection))
    assert created.status_code == 201, created.json
    assert PASSWORD not in created.get_data(as_text=True)
    assert created.json["state"] == "pending"
    assert created.json["direction"] == "two_way" and created.json["conflict_policy"] == "plan_wins"
    worker.sync_once()
    listed = call("GET", f"/plans/{plan_id}/calendar-links", user="vic")
    assert listed.status_code == 200
    (link,) = listed.json["calendar_links"]
    assert link["id"] == created.json["id"]
    assert link["state"] == "ok" and link["last_error"] is None and link["last_sync_at"]
    assert link["items_in_sync"] == 2  # the milestone and the review series
    assert len(CalendarApp(collection).names()) == 2
    assert PASSWORD not in listed.get_data(as_text=True)
    history = call("GET", f"/plans/{plan_id}/history?type=CalendarLinked").json["entries"]
    assert len(history) == 1 and history[0]["actor"] == "ann"


def test_the_password_is_in_no_event_export_log_or_database_page(
    call: Callable[..., Any], plan_id: str, collection: str, worker: CalendarSync, app: Leanplan,
    sqlite_url: str, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        link_id = call("POST", f"/plans/{plan_id}/calendar-links", json=_body(collection)).json[
            "id"
        ]
        worker.sync_once()
    assert not any(PASSWORD in record.getMessage() for record in caplog.records)
    exported = io.StringIO()
    export(app, exported)
    assert PASSWORD not in exported.getvalue()
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    raw = b"".join(path.read_bytes() for path in database.parent.glob(database.name + "*"))
    assert PASSWORD.encode() not in raw
    # It is there, encrypted, for the worker; another key cannot read it.
    assert LinkSecrets(SideDatabase(app), cipher(SECRET_KEY)).get(UUID(link_id)) == PASSWORD
    with pytest.raises(SecretUnreadable):
        LinkSecrets(SideDatabase(app), cipher("another key")).get(UUID(link_id))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "ftp://example.org/cal/"}, "url"),
        ({"url": "https://ann:secret@example.org/cal/"}, "url"),
        ({"url": "not a url"}, "url"),
        ({"direction": "sideways"}, "direction"),
        ({"conflict_policy": "coin_toss"}, "conflict_policy"),
        ({"name": ""}, "name"),
        ({"owner_email": "nobody"}, "owner_email"),
        ({"kinds": []}, "kinds"),
    ],
)
def test_invalid_links_are_refused_with_422_and_nothing_stored(
    call: Callable[..., Any], plan_id: str, collection: str, changes: dict[str, Any], field: str, app: Leanplan,
    link_secrets: LinkSecrets,
) -> None:  # fmt: skip
    before = len(list(app.history(UUID(plan_id))))
    answer = call("POST", f"/plans/{plan_id}/calendar-links", json=_body(collection) | changes)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["errors"]
    assert len(list(app.history(UUID(plan_id)))) == before
    with SideDatabase(app).transaction() as cursor:
        cursor.execute("SELECT COUNT(*) FROM leanplan_link_secrets")
        assert cursor.rows() == [(0,)]


def test_viewers_read_members_only_and_editors_write(
    call: Callable[..., Any], plan_id: str, collection: str
) -> None:
    assert (
        call(
            "POST", f"/plans/{plan_id}/calendar-links", user="vic", json=_body(collection)
        ).status_code
        == 403
    )
    assert call("GET", f"/plans/{plan_id}/calendar-links", user="out").status_code == 404
    assert (
        call(
            "POST", f"/plans/{plan_id}/calendar-links", user="out", json=_body(collection)
        ).status_code
        == 404
    )
    link_id = call("POST", f"/plans/{plan_id}/calendar-links", json=_body(collection)).json["id"]
    assert (
        call("DELETE", f"/plans/{plan_id}/calendar-links/{link_id}", user="vic").status_code == 403
    )
    assert call("DELETE", f"/plans/{plan_id}/calendar-links/{UUID(int=1)}").status_code == 404


def test_unlinking_with_remove_items_removes_what_was_pushed(
    call: Callable[..., Any], plan_id: str, collection: str, worker: CalendarSync
) -> None:
    link_id = call("POST", f"/plans/{plan_id}/calendar-links", json=_body(collection)).json["id"]
    worker.sync_once()
    assert len(CalendarApp(collection).names()) == 2
    answer = call("DELETE", f"/plans/{plan_id}/calendar-links/{link_id}?remove_items=true")
    assert answer.status_code == 204
    assert call("GET", f"/plans/{plan_id}/calendar-links").json["calendar_links"] == []
    worker.sync_once()
    assert CalendarApp(collection).names() == {}
    entry = call("GET", f"/plans/{plan_id}/history?type=CalendarUnlinked").json["entries"][0]
    assert entry["changes"]["remove_items"]["new"] is True


def test_unlinking_alone_leaves_the_calendar_as_it_is_and_forgets_the_password(
    call: Callable[..., Any], plan_id: str, collection: str, worker: CalendarSync, app: Leanplan
) -> None:
    link_id = call("POST", f"/plans/{plan_id}/calendar-links", json=_body(collection)).json["id"]
    worker.sync_once()
    assert call("DELETE", f"/plans/{plan_id}/calendar-links/{link_id}").status_code == 204
    with pytest.raises(SecretUnreadable):
        LinkSecrets(SideDatabase(app), cipher(SECRET_KEY)).get(UUID(link_id))
    report = worker.sync_once()
    assert not report.failed
    assert worker.state.link(UUID(link_id)) is None
    assert len(CalendarApp(collection).names()) == 2


def test_a_refused_password_shows_as_failing_in_the_api(
    call: Callable[..., Any], plan_id: str, worker: CalendarSync, tmp_path: Path
) -> None:
    htpasswd = tmp_path / "users"
    htpasswd.write_text("ann:other\n")
    server = Radicale(tmp_path, htpasswd=htpasswd)
    try:
        call("POST", f"/plans/{plan_id}/calendar-links", json=_body(f"{server.url}/ann/cal/"))
        worker.sync_once()
    finally:
        server.stop()
    (link,) = call("GET", f"/plans/{plan_id}/calendar-links").json["calendar_links"]
    assert link["state"] == "failing"
    assert "refused the credentials (HTTP 401)" in link["last_error"]


def test_without_a_secret_key_no_password_can_be_stored(
    app: Leanplan, plan_id: str, collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEANPLAN_SECRET_KEY")
    keyless = create_app({"LEANPLAN_APP": app, "TESTING": True})
    token = register_user(app, "kim", email="kim@example.org", actor="test")
    client = keyless.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    plan = client.post(f"{PREFIX}/plans", json={"name": "Other"}, headers=headers).json["id"]
    answer = client.post(
        f"{PREFIX}/plans/{plan}/calendar-links", json=_body(collection), headers=headers
    )
    assert answer.status_code == 422
    assert "LEANPLAN_SECRET_KEY" in answer.json["errors"]["password"][0]
    assert FAST.base_url  # the worker's settings are not what this is about
