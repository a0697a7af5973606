"""Helpers the page tests share: a signed-in test client that posts forms with their CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

CSRF = "test-csrf-token"


@dataclass(frozen=True)
class Browser:
    """A test client signed in as one user; `post` sends a form as the page would, token included."""

    client: FlaskClient

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: str | None = CSRF) -> TestResponse:
        form = dict(data or {})
        if csrf is not None:
            form["csrf_token"] = csrf
        return self.client.post(path, data=form)


def milestone_form(**changes: Any) -> dict[str, Any]:
    form = {
        "form_id": "new-milestone",
        "title": "Beta launched",
        "description": "",
        "kind": "implementation",
        "due": "2031-05-01",
        "budget": "2500.00",
        "owner_name": "Bo Builder",
        "owner_email": "bo@example.org",
    }
    form.update(changes)
    return form
