"""`leanplan rotate-secret-key` moves every calendar-link password from the old key to the new one,
on both stores; it can run again, names the links no key opens, and refuses unusable keys."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from uuid import UUID, uuid4

import pytest

from adapters.bootstrap import open_leanplan
from adapters.caldav_state import SideDatabase
from adapters.config import SETTINGS
from adapters.secrets import LinkSecrets, SecretUnreadable, cipher
from web.cli import main

OLD = secrets.token_urlsafe(48)
NEW = secrets.token_urlsafe(48)
OTHER = secrets.token_urlsafe(48)


@pytest.fixture
def store(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    for setting in SETTINGS:
        monkeypatch.delenv(setting.name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def _put(url: str, key: str, passwords: dict[UUID, str]) -> None:
    with open_leanplan(url, environ={}) as app:
        stored = LinkSecrets(SideDatabase(app), cipher(key))
        for link_id, password in passwords.items():
            stored.put(link_id, password)


def _get(url: str, key: str, link_ids: Iterable[UUID]) -> dict[UUID, str]:
    """The passwords `key` opens; raises SecretUnreadable for one it does not."""
    with open_leanplan(url, environ={}) as app:
        stored = LinkSecrets(SideDatabase(app), cipher(key))
        return {link_id: stored.get(link_id) for link_id in link_ids}


def _rotate(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], old: str, new: str
) -> tuple[int, list[str], list[str]]:
    monkeypatch.setenv("LEANPLAN_OLD_SECRET_KEY", old)
    monkeypatch.setenv("LEANPLAN_SECRET_KEY", new)
    status = main(["rotate-secret-key"])
    out, err = capsys.readouterr()
    return status, out.splitlines(), err.splitlines()


def test_every_password_moves_to_the_new_key_and_a_second_run_changes_nothing(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    under_old = {uuid4(): f"password {i}" for i in range(3)}
    made_since = uuid4()
    _put(store, OLD, under_old)
    _put(store, NEW, {made_since: "made with the new key"})

    status, out, err = _rotate(monkeypatch, capsys, OLD, NEW)
    assert (status, err) == (0, [])
    assert (
        out[0]
        == "3 calendar passwords re-encrypted under the new key, 1 were already, 0 unreadable"
    )

    assert _get(store, NEW, under_old) == under_old
    assert _get(store, NEW, [made_since]) == {made_since: "made with the new key"}
    with pytest.raises(SecretUnreadable):
        _get(store, OLD, under_old)

    status, out, _ = _rotate(monkeypatch, capsys, OLD, NEW)
    assert status == 0
    assert out[0].startswith("0 calendar passwords re-encrypted under the new key, 4 were already")


def test_a_password_neither_key_opens_is_named_and_the_rest_still_move(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    movable, lost = uuid4(), uuid4()
    _put(store, OLD, {movable: "kept"})
    _put(store, OTHER, {lost: "under a key nobody has"})

    status, out, err = _rotate(monkeypatch, capsys, OLD, NEW)
    assert status == 1
    assert err == [
        f"leanplan: error: calendar link {lost}: neither key opens its password; "
        "link the calendar again"
    ]
    assert out[0].endswith("1 unreadable")
    assert _get(store, NEW, [movable]) == {movable: "kept"}


def test_a_store_without_links_rotates_nothing(
    store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = _rotate(monkeypatch, capsys, OLD, NEW)
    assert (status, err) == (0, [])
    assert out[0].startswith("0 calendar passwords re-encrypted")


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("", NEW, "LEANPLAN_OLD_SECRET_KEY: not set; set it to the key used until now"),
        (OLD, OLD, "LEANPLAN_OLD_SECRET_KEY: the same as LEANPLAN_SECRET_KEY"),
        (OLD, "weak", "LEANPLAN_SECRET_KEY: too short to be safe"),
        (OLD, "", "LEANPLAN_SECRET_KEY: not set"),
    ],
    ids=["no-old-key", "same-key", "weak-new-key", "no-new-key"],
)
def test_unusable_keys_are_refused_before_anything_changes(
    sqlite_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    old: str,
    new: str,
    says: str,
) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    link_id = uuid4()
    _put(sqlite_url, OLD, {link_id: "untouched"})
    status, out, err = _rotate(monkeypatch, capsys, old, new)
    assert status == 1
    assert len(err) == 1 and err[0].startswith(f"leanplan: error: {says}")
    assert out == []
    assert _get(sqlite_url, OLD, [link_id]) == {link_id: "untouched"}
