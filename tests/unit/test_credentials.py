"""Tokens and passwords: only hashes are stored, and only the right secret gets a user back."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator

import pytest

from adapters.credentials import (
    PasswordRejected,
    hash_password,
    hash_token,
    new_token,
    register_user,
    token_user_id,
    verify_password,
    verify_token,
)
from domain.application import Leanplan
from domain.users import user_id


@pytest.fixture
def app() -> Iterator[Leanplan]:
    """An in-memory store: these tests are about the secrets, not the database."""
    with Leanplan(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}) as leanplan:
        yield leanplan


def test_token_names_its_user_and_carries_256_random_bits() -> None:
    owner = user_id("alice")
    token = new_token(owner)
    prefix, hex_id, secret = token.split("_", 2)
    assert (prefix, hex_id) == ("lp", owner.hex)
    assert len(secret) == 43  # token_urlsafe(32): 32 bytes in unpadded base64
    assert token_user_id(token) == owner
    assert new_token(owner) != token


@pytest.mark.parametrize(
    "token",
    [
        "",
        "lp",
        "lp__secret",
        "xx_" + "0" * 32 + "_secret",
        "lp_" + "g" * 32 + "_secret",
        "lp_" + "0" * 31 + "_secret",
        "lp_" + "0" * 32 + "_",
    ],
)
def test_malformed_tokens_name_no_user(token: str) -> None:
    assert token_user_id(token) is None


def test_register_stores_only_the_sha256_of_the_token(app: Leanplan) -> None:
    token = register_user(app, "alice", email="alice@example.com", actor="test")
    stored = app.user("alice")
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest() == hash_token(token)
    assert token not in repr(vars(stored))
    assert stored.password_hash is None


def test_verify_token_returns_the_user_for_their_current_token_only(app: Leanplan) -> None:
    token = register_user(app, "alice", email="alice@example.com", actor="test")
    assert verify_token(app, token) == app.user("alice")

    replacement = new_token(user_id("alice"))
    app.issue_token("alice", token_hash=hash_token(replacement), actor="test")
    assert verify_token(app, token) is None
    assert verify_token(app, replacement) == app.user("alice")


def test_verify_token_rejects_other_users_forged_and_garbled_tokens(app: Leanplan) -> None:
    alice = register_user(app, "alice", email="alice@example.com", actor="test")
    bob = register_user(app, "bob", email="bob@example.com", actor="test")
    _, _, bob_secret = bob.split("_", 2)
    assert verify_token(app, f"lp_{user_id('alice').hex}_{bob_secret}") is None
    assert verify_token(app, alice[:-1] + ("A" if alice[-1] != "A" else "B")) is None
    assert verify_token(app, new_token(user_id("nobody"))) is None
    assert verify_token(app, "not a token") is None


def test_password_hash_is_salted_scrypt_with_its_parameters() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second
    scheme, n, r, p, salt, key = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
    assert salt and key and "correct horse" not in first


def test_verify_password_accepts_the_password_and_nothing_else() -> None:
    stored = hash_password("correct horse")
    assert verify_password("correct horse", stored)
    assert not verify_password("correct horsE", stored)
    assert not verify_password("", stored)
    assert not verify_password("correct horse", None)


def test_verify_password_honours_the_parameters_in_the_stored_string() -> None:
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"pw-with-old-cost", salt=salt, n=1024, r=4, p=2, dklen=32)
    stored = f"scrypt$1024$4$2${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    assert verify_password("pw-with-old-cost", stored)
    assert not verify_password("pw-with-new-cost", stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "bcrypt$1$2$3$c2FsdA==$a2V5",
        "scrypt$x$8$1$c2FsdA==$a2V5",
        "scrypt$1000$8$1$c2FsdA==$a2V5",  # n must be a power of two
        "scrypt$1048576$64$1$c2FsdA==$a2V5",  # would need more memory than allowed
        "scrypt$16384$8$1$!!$a2V5",
        "scrypt$16384$8$1$c2FsdA==$",
    ],
)
def test_unreadable_stored_hashes_never_verify(stored: str) -> None:
    assert not verify_password("anything", stored)


@pytest.mark.parametrize("password", ["", "short", "x" * 1025])
def test_too_short_or_too_long_passwords_are_rejected(password: str) -> None:
    with pytest.raises(PasswordRejected, match="8 to 1024"):
        hash_password(password)


def test_register_with_password_stores_a_verifiable_hash(app: Leanplan) -> None:
    register_user(app, "alice", email="alice@example.com", password="correct horse", actor="test")
    assert verify_password("correct horse", app.user("alice").password_hash)
