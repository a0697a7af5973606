"""Behind a TLS-terminating proxy: an https LEANPLAN_BASE_URL makes the session cookie Secure, so a
browser never sends it over plain HTTP; a plain-http base URL (a laptop) leaves it usable there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.bootstrap import open_leanplan
from domain.application import Leanplan
from web import create_app


@pytest.fixture
def leanplan(tmp_path: Path) -> Iterator[Leanplan]:
    with open_leanplan(f"sqlite:///{tmp_path / 'proxy.sqlite3'}", environ={}) as app:
        yield app


def _session_cookie(leanplan: Leanplan, **config: str) -> str:
    app = create_app({"LEANPLAN_APP": leanplan, "TESTING": True, "SECRET_KEY": "k" * 40} | config)
    response = app.test_client().get("/sign-in")
    assert response.status_code == 200
    name = app.config["SESSION_COOKIE_NAME"]
    cookies = [c for c in response.headers.getlist("Set-Cookie") if c.startswith(f"{name}=")]
    assert len(cookies) == 1, "the sign-in form's CSRF token lives in the session"
    return cookies[0]


def test_an_https_base_url_makes_the_session_cookie_secure(leanplan: Leanplan) -> None:
    cookie = _session_cookie(leanplan, LEANPLAN_BASE_URL="https://plans.example.org")
    assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_base_url_from_the_environment_counts_too(
    leanplan: Leanplan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEANPLAN_BASE_URL", "https://plans.example.org")
    assert "; Secure" in _session_cookie(leanplan)


def test_a_plain_http_base_url_keeps_the_cookie_usable_without_tls(
    leanplan: Leanplan, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEANPLAN_BASE_URL", raising=False)
    assert "Secure" not in _session_cookie(leanplan)
    assert "Secure" not in _session_cookie(leanplan, LEANPLAN_BASE_URL="http://127.0.0.1:8000")
