"""Feeds over HTTP: the subscription API, conditional GET and HEAD, and tokens that reveal nothing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import icalendar
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from adapters.bootstrap import open_leanplan
from adapters.credentials import register_user
from domain.application import Leanplan
from web import create_app

Parse = Callable[[bytes], icalendar.Calendar]
API = "/api/v1"
OWNERS = {"ann": {"name": "Ann", "email": "ann@example.org"}, "bob": {"name": "Bob", "email": "bob@example.org"}}


@pytest.fixture
def leanplan(tmp_path: Path) -> Iterator[Leanplan]:
    application = open_leanplan(f"sqlite:///{tmp_path / 'feeds.sqlite3'}")
    yield application
    application.close()


@pytest.fixture
def tokens(leanplan: Leanplan) -> dict[str, str]:
    return {
        name: register_user(leanplan, name, email=f"{name}@example.org", actor="test")
        for name in ("alice", "carol", "dave")
    }


@pytest.fixture
def client(leanplan: Leanplan) -> FlaskClient:
    app = create_app({"LEANPLAN_APP": leanplan, "TESTING": True, "LEANPLAN_BASE_URL": "https://lp.example"})
    return app.test_client()


@pytest.fixture
def call(client: FlaskClient, tokens: dict[str, str]) -> Callable[..., TestResponse]:
    """`call(method, path, as_="alice", **kwargs)` against the API."""

    def request(
        method: str, path: str, as_: str | None = "alice", headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:  # fmt: skip
        sent = dict(headers or {}) | ({"Authorization": f"Bearer {tokens[as_]}"} if as_ else {})
        return client.open(API + path, method=method, headers=sent, **kwargs)

    return request


@pytest.fixture
def plan_id(call: Callable[..., TestResponse]) -> UUID:
    """Alice's plan with carol as viewer, and one milestone of each kind between Ann and Bob."""
    plan = UUID(call("POST", "/plans", json={"name": "Launch", "timezone": "Europe/Berlin"}).json["id"])
    assert call("POST", f"/plans/{plan}/members", json={"user": "carol", "role": "viewer"}).status_code == 201
    for title, kind, owner in [("Build", "implementation", "ann"), ("Ask", "assumption", "bob")]:
        body = {"title": title, "kind": kind, "due": "2031-03-14", "budget": "10", "owner": OWNERS[owner]}
        assert call("POST", f"/plans/{plan}/milestones", json=body).status_code == 201
    return plan


def new_feed(call: Callable[..., TestResponse], plan_id: UUID, **body: Any) -> dict[str, Any]:
    created = call("POST", f"/plans/{plan_id}/feeds", json={"name": "Team"} | body)
    assert created.status_code == 201, created.json
    answer: dict[str, Any] = created.json
    return answer


def path_of(feed: dict[str, Any]) -> str:
    return str(feed["url"]).removeprefix("https://lp.example")


def titles(calendar: icalendar.Calendar) -> set[str]:
    return {str(c["SUMMARY"]).split(" (")[0] for c in calendar.walk() if c.name in ("VEVENT", "VTODO")}


def test_creating_a_feed_shows_its_token_once(
    call: Callable[..., TestResponse], plan_id: UUID, leanplan: Leanplan
) -> None:
    created = call("POST", f"/plans/{plan_id}/feeds", json={"name": "Team"})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    feed = created.json
    token = feed["token"]
    assert len(token) >= 43 and feed["url"] == f"https://lp.example/feeds/{token}.ics"
    assert feed["webcal_url"] == f"webcal://lp.example/feeds/{token}.ics"
    assert "token_hash" not in feed
    listed = call("GET", f"/plans/{plan_id}/feeds", as_="carol")
    assert listed.status_code == 200
    assert token not in listed.get_data(as_text=True) and "token_hash" not in listed.json["feeds"][0]
    assert listed.json["feeds"][0] | {"fetch_count": 0} == listed.json["feeds"][0]
    history = call("GET", f"/plans/{plan_id}/history?type=FeedCreated").json["entries"]
    assert [entry["changes"]["name"]["new"] for entry in history] == ["Team"]
    assert token not in str(list(leanplan.history(plan_id)))


def test_the_feed_answers_with_validators_and_stable_bytes(
    client: FlaskClient, call: Callable[..., TestResponse], plan_id: UUID, parse: Parse
) -> None:
    feed = new_feed(call, plan_id)
    first = client.get(path_of(feed))
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert first.headers["Cache-Control"] == "private, max-age=3600"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "Last-Modified" in first.headers
    assert titles(parse(first.data)) == {"Plan review: Launch", "Build", "Ask"}
    assert client.get(path_of(feed)).data == first.data

    by_etag = client.get(path_of(feed), headers={"If-None-Match": etag})
    by_date = client.get(path_of(feed), headers={"If-Modified-Since": first.headers["Last-Modified"]})
    for not_modified in (by_etag, by_date):
        assert not_modified.status_code == 304 and not_modified.data == b""
        assert not_modified.headers["ETag"] == etag
    stale = client.get(path_of(feed), headers={"If-None-Match": '"something-else"'})
    assert stale.status_code == 200

    head = client.head(path_of(feed))
    assert head.status_code == 200 and head.data == b""
    assert head.headers["ETag"] == etag and head.headers["Content-Length"] == str(len(first.data))

    call("POST", f"/plans/{plan_id}/reviews", json={"held_on": "2031-01-10", "notes": "ok"})
    changed = client.get(path_of(feed), headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_unknown_malformed_and_revoked_tokens_look_the_same(
    client: FlaskClient, call: Callable[..., TestResponse], plan_id: UUID
) -> None:
    feed = new_feed(call, plan_id)
    assert client.get(path_of(feed)).status_code == 200
    revoked = call("DELETE", f"/plans/{plan_id}/feeds/{feed['id']}")
    assert revoked.status_code == 204
    answers = [
        client.get(path_of(feed)),
        client.get("/feeds/" + "A" * 43 + ".ics"),
        client.get("/feeds/short.ics"),
        client.get("/feeds/" + feed["token"][:-1] + "B.ics"),
    ]
    for answer in answers:
        assert answer.status_code == 404
        assert (answer.data, answer.headers.get("Cache-Control")) == (answers[0].data, "no-store")
        assert sorted(k for k, _ in answer.headers) == sorted(k for k, _ in answers[0].headers)
    assert call("DELETE", f"/plans/{plan_id}/feeds/{feed['id']}").status_code == 404
    assert call("GET", f"/plans/{plan_id}/feeds").json == {"feeds": []}
    types = [e["type"] for e in call("GET", f"/plans/{plan_id}/history").json["entries"]]
    assert types[-2:] == ["FeedCreated", "FeedRevoked"]


def test_filters_and_the_todo_flavour(
    client: FlaskClient, call: Callable[..., TestResponse], plan_id: UUID, parse: Parse
) -> None:
    bobs = new_feed(call, plan_id, owner_email="BOB@example.org")
    assert titles(parse(client.get(path_of(bobs)).data)) == {"Plan review: Launch", "Ask"}
    built = new_feed(call, plan_id, kinds=["implementation"])
    assert titles(parse(client.get(path_of(built)).data)) == {"Build"}
    todo = parse(client.get(path_of(built) + "?format=todo").data)
    assert [str(t["SUMMARY"]) for t in todo.walk("VTODO")] == ["Build (implementation, planned)"]
    assert client.get(path_of(built) + "?format=pdf").status_code == 400
    listed = call("GET", f"/plans/{plan_id}/feeds").json["feeds"]
    assert [(f["owner_email"], f["kinds"]) for f in listed] == [
        ("BOB@example.org", None),
        (None, ["implementation"]),
    ]


def test_fetches_are_counted_outside_the_history(
    client: FlaskClient, call: Callable[..., TestResponse], plan_id: UUID
) -> None:
    feed = new_feed(call, plan_id)
    version = call("GET", f"/plans/{plan_id}").headers["ETag"]
    etag = client.get(path_of(feed), headers={"User-Agent": "Google-Calendar-Importer"}).headers["ETag"]
    client.get(path_of(feed), headers={"User-Agent": "Thunderbird/128", "If-None-Match": etag})
    (listed,) = call("GET", f"/plans/{plan_id}/feeds").json["feeds"]
    assert listed["fetch_count"] == 2 and listed["last_status"] == 304
    assert listed["last_user_agent"] == "Thunderbird/128" and listed["last_fetched_at"]
    assert call("GET", f"/plans/{plan_id}").headers["ETag"] == version


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": " "}, "name"),
        ({"name": "x", "owner_email": "not an email"}, "owner_email"),
        ({"name": "x", "kinds": ["nope"]}, "kinds.0"),
        ({"name": "x", "kinds": []}, "kinds"),
    ],
)
def test_invalid_feeds_are_refused_and_append_nothing(
    call: Callable[..., TestResponse], plan_id: UUID, body: dict[str, Any], field: str
) -> None:
    before = len(call("GET", f"/plans/{plan_id}/history").json["entries"])
    refused = call("POST", f"/plans/{plan_id}/feeds", json=body)
    assert refused.status_code == 422 and field in refused.json["errors"], refused.json
    assert len(call("GET", f"/plans/{plan_id}/history").json["entries"]) == before


def test_who_may_manage_feeds(call: Callable[..., TestResponse], plan_id: UUID) -> None:
    feed = new_feed(call, plan_id)
    assert call("POST", f"/plans/{plan_id}/feeds", as_="carol", json={"name": "x"}).status_code == 403
    assert call("DELETE", f"/plans/{plan_id}/feeds/{feed['id']}", as_="carol").status_code == 403
    assert call("GET", f"/plans/{plan_id}/feeds", as_="dave").status_code == 404
    assert call("POST", f"/plans/{plan_id}/feeds", as_="dave", json={"name": "x"}).status_code == 404
    assert call("GET", f"/plans/{plan_id}/feeds", as_=None).status_code == 401
    stale = call("POST", f"/plans/{plan_id}/feeds", json={"name": "x"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412


def test_the_token_never_reaches_a_log(
    client: FlaskClient, call: Callable[..., TestResponse], plan_id: UUID, caplog: pytest.LogCaptureFixture
) -> None:
    feed = new_feed(call, plan_id)
    with caplog.at_level(logging.DEBUG):
        client.get(path_of(feed))
        logging.getLogger("werkzeug").info('127.0.0.1 - - "GET %s HTTP/1.1" 200 -', path_of(feed))
        logging.getLogger("gunicorn.access").info("GET %s", path_of(feed))
    messages = [record.getMessage() for record in caplog.records]
    assert any(feed["id"] in message for message in messages)
    assert '127.0.0.1 - - "GET /feeds/<token>.ics HTTP/1.1" 200 -' in messages
    assert "GET /feeds/<token>.ics" in messages
    assert not any(feed["token"] in message for message in messages)


def test_the_api_routes_are_documented(client: FlaskClient) -> None:
    paths = client.get(f"{API}/openapi.json").json["paths"]
    assert {"get", "post"} <= set(paths[f"{API}/plans/{{plan_id}}/feeds"])
    assert "delete" in paths[f"{API}/plans/{{plan_id}}/feeds/{{feed_id}}"]


def test_refresh_and_grace_follow_the_settings(
    leanplan: Leanplan, call: Callable[..., TestResponse], plan_id: UUID
) -> None:
    feed = new_feed(call, plan_id)
    settings = {"LEANPLAN_FEED_REFRESH_SECONDS": "21600", "LEANPLAN_FEED_GRACE_DAYS": 0}
    other = create_app({"LEANPLAN_APP": leanplan, "TESTING": True, "LEANPLAN_BASE_URL": "https://lp.example"} | settings)
    milestone = call("GET", f"/plans/{plan_id}").json["milestones"][0]["id"]
    call("POST", f"/plans/{plan_id}/milestones/{milestone}/cancel", json={"reason": "dropped"})
    answer = other.test_client().get(path_of(feed))
    assert answer.headers["Cache-Control"] == "private, max-age=21600"
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT6H\r\n" in answer.data
    assert milestone.encode() not in answer.data  # no grace: a cancelled milestone leaves at once
