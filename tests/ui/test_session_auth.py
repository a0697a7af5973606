"""Signing in and out, the session cookie's flags, the secret key and the CSRF check."""

from __future__ import annotations

import logging
import re
from uuid import UUID

import pytest
from flask import Flask
from flask.testing import FlaskClient

from domain.application import Leanplan
from tests.ui.conftest import PASSWORD
from tests.ui.support import Browser
from web import create_app


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the form carries no CSRF token"
    return found.group(1)


def test_pages_send_visitors_to_sign_in_and_back(client: FlaskClient, plan_id: UUID) -> None:
    answer = client.get(f"/plans/{plan_id}/history?actor=bob")
    assert answer.status_code == 303
    assert answer.location == f"/sign-in?next=/plans/{plan_id}/history?actor%3Dbob"


def test_sign_in_form_is_labelled_and_carries_a_token(client: FlaskClient) -> None:
    page = client.get("/sign-in").text
    assert '<label for="sign-in-name">Name</label>' in page
    assert '<label for="sign-in-password">Password</label>' in page
    assert csrf_of(page)


def test_sign_in_with_password_sets_a_safe_session_cookie(client: FlaskClient, plan_id: UUID) -> None:
    token = csrf_of(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in",
        data={"name": "Alice", "password": PASSWORD, "csrf_token": token, "next": f"/plans/{plan_id}"},
    )
    assert answer.status_code == 303
    assert answer.location == f"/plans/{plan_id}"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert cookie.startswith("leanplan_session=")
    with client.session_transaction() as session:
        assert session["user"] == "alice"
        assert session["csrf"] != token, "signing in must start a fresh session"
    assert "Signed in as <strong>alice</strong>" in client.get(f"/plans/{plan_id}").text


@pytest.mark.parametrize("name, password", [("alice", "wrong password"), ("nobody", PASSWORD), ("", "")])
def test_a_wrong_name_or_password_is_refused_alike(client: FlaskClient, name: str, password: str) -> None:
    token = csrf_of(client.get("/sign-in").text)
    answer = client.post("/sign-in", data={"name": name, "password": password, "csrf_token": token})
    assert answer.status_code == 401
    assert "That name and password do not match." in answer.text
    with client.session_transaction() as session:
        assert "user" not in session


def test_sign_in_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    client.get("/sign-in")
    answer = client.post("/sign-in", data={"name": "alice", "password": PASSWORD})
    assert answer.status_code == 400
    assert "This form has expired" in answer.text


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_sign_in_only_returns_to_this_site(client: FlaskClient, target: str) -> None:
    token = csrf_of(client.get("/sign-in").text)
    answer = client.post(
        "/sign-in", data={"name": "alice", "password": PASSWORD, "csrf_token": token, "next": target}
    )
    assert answer.location == "/plans"


def test_sign_out_ends_the_session(alice: Browser) -> None:
    assert alice.post("/sign-out", csrf=None).status_code == 400, "sign-out needs the token too"
    answer = alice.post("/sign-out")
    assert answer.status_code == 303 and answer.location == "/sign-in"
    assert alice.get("/plans").status_code == 303


def test_a_forged_token_is_refused(alice: Browser, plan_id: UUID, leanplan: Leanplan) -> None:
    before = len(list(leanplan.history(plan_id)))
    answer = alice.post(f"/plans/{plan_id}/assumptions", {"statement": "x"}, csrf="forged")
    assert answer.status_code == 400
    assert len(list(leanplan.history(plan_id))) == before


def test_secret_key_comes_from_the_environment(leanplan: Leanplan, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEANPLAN_SECRET_KEY", "from-the-environment")
    app = create_app({"LEANPLAN_APP": leanplan})
    assert app.config["SECRET_KEY"] == "from-the-environment"


def test_without_a_secret_key_a_random_one_is_used_with_a_warning(
    leanplan: Leanplan, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("LEANPLAN_SECRET_KEY", raising=False)
    with caplog.at_level(logging.WARNING, logger="web.session_auth"):
        first: Flask = create_app({"LEANPLAN_APP": leanplan})
    second: Flask = create_app({"LEANPLAN_APP": leanplan})
    assert len(first.config["SECRET_KEY"]) >= 32
    assert first.config["SECRET_KEY"] != second.config["SECRET_KEY"]
    assert "LEANPLAN_SECRET_KEY is not set" in caplog.text
