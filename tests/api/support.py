"""Helpers the API tests share: a caller with a token, request bodies, the error shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

PREFIX = "/api/v1"
OWNER = {"name": "Ada Owner", "email": "ada@example.org"}


@dataclass(frozen=True)
class Caller:
    """The test client speaking as one user (or, without a token, as nobody)."""

    client: FlaskClient
    token: str | None

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> TestResponse:
        sent = dict(headers or {})
        if self.token is not None:
            sent.setdefault("Authorization", f"Bearer {self.token}")
        return self.client.open(PREFIX + path, method=method, headers=sent, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)


def milestone_body(**changes: Any) -> dict[str, Any]:
    body = {
        "title": "Pilot customer signed",
        "kind": "implementation",
        "due": "2031-03-14",
        "budget": "1500",
        "owner": OWNER,
    }
    return body | changes


def errors(response: TestResponse, status: int) -> dict[str, list[str]]:
    """The response's error fields, after checking its status and the one error shape."""
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.json
    assert isinstance(body, dict) and set(body) == {"errors"}, body
    assert all(
        isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)
        for messages in body["errors"].values()
    ), body
    found: dict[str, list[str]] = body["errors"]
    return found
