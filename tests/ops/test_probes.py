"""/healthz says the process answers; /readyz says whether the event store does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from adapters.bootstrap import open_leanplan
from domain.application import Leanplan
from tests.conftest import POSTGRES_PORT
from tests.ops.support import TcpProxy, scrape
from web import create_app


def test_healthz_answers_ok_without_a_user(client: FlaskClient) -> None:
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}
    assert answer.headers["Cache-Control"] == "no-store"


def test_readyz_is_ok_on_sqlite(client: FlaskClient) -> None:
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json == {"status": "ok"}


@pytest.mark.postgres
def test_readyz_is_ok_on_postgresql(postgres_url: str) -> None:
    leanplan = open_leanplan(postgres_url)
    try:
        answer = create_app({"LEANPLAN_APP": leanplan}).test_client().get("/readyz")
        assert answer.status_code == 200
        assert answer.json == {"status": "ok"}
    finally:
        leanplan.close()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    """A way to PostgreSQL that the test can take away."""
    forwarding = TcpProxy(POSTGRES_PORT)
    yield forwarding
    forwarding.stop()


@pytest.fixture
def leanplan_behind_proxy(
    postgres_url: str, proxy: TcpProxy, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Leanplan]:
    monkeypatch.setenv("POSTGRES_CONNECT_TIMEOUT", "1")  # each probe then fails within a second
    monkeypatch.setenv("POSTGRES_POOL_SIZE", "1")  # one connection: once it is cut, the next
    monkeypatch.setenv("POSTGRES_MAX_OVERFLOW", "0")  # probe must open one, and is refused
    leanplan = open_leanplan(postgres_url.replace(f":{POSTGRES_PORT}/", f":{proxy.port}/"))
    yield leanplan
    leanplan.close()


@pytest.mark.postgres
def test_readyz_is_unavailable_when_postgresql_cannot_be_reached(
    leanplan_behind_proxy: Leanplan, proxy: TcpProxy, postgres_url: str
) -> None:
    app: Flask = create_app({"LEANPLAN_APP": leanplan_behind_proxy})
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    proxy.stop()  # the database's port is closed now, and the pooled connection cut

    for _ in range(2):  # the cut connection first, then a refused new one
        answer = client.get("/readyz")
        assert answer.status_code == 503
        assert answer.json is not None and answer.json["status"] == "unavailable"
        reason = answer.json["reason"]
        assert reason.startswith("the event store does not answer")
        user, database = postgres_url.split("//")[1].split("@")[0], postgres_url.rsplit("/", 1)[1]
        for detail in (str(proxy.port), "127.0.0.1", user, database):
            assert detail not in reason
    assert client.get("/healthz").status_code == 200, "liveness must not depend on the store"
    down = scrape(client)
    assert down.value("leanplan_store_up") == 0
    assert not [s for s in down.samples if s.name.startswith("leanplan_sync_")]
