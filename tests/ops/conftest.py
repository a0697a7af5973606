"""Operations fixtures: the app on a fresh SQLite file, a user with a token, and API calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adapters.bootstrap import open_leanplan
from adapters.credentials import register_user
from domain.application import Leanplan
from tests.ops.support import Api
from web import create_app

SECRET_KEY = "ops-tests-secret-key-for-calendar-passwords"


@pytest.fixture
def leanplan(sqlite_url: str) -> Iterator[Leanplan]:
    application = open_leanplan(sqlite_url)
    yield application
    application.close()


@pytest.fixture
def app(leanplan: Leanplan) -> Flask:
    return create_app(
        {
            "LEANPLAN_APP": leanplan,
            "TESTING": True,
            "SECRET_KEY": SECRET_KEY,
            "LEANPLAN_SECRET_KEY": SECRET_KEY,
        }
    )


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def token(leanplan: Leanplan) -> str:
    return register_user(leanplan, "ann", email="ann@example.org", actor="test")


@pytest.fixture
def api(client: FlaskClient, token: str) -> Api:
    return Api(client, token)
