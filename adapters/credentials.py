"""API tokens and passwords: made and checked here, stored only as hashes in the User aggregate.

A token reads `lp_<user id hex>_<secret>`: the user id inside lets a request find its user with one
aggregate load, without an index from token to user. Tokens carry 256 random bits, so a fast
SHA-256 is enough to store them; passwords are low-entropy, so they get salted, memory-hard scrypt
with its parameters kept in the stored string (they can be raised later without breaking old ones).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from uuid import UUID

from domain.application import Leanplan
from domain.errors import UserNotFound
from domain.users import User, user_id

TOKEN_PREFIX = "lp"
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_SCRYPT_MEMORY = 64 * 1024 * 1024
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024


class PasswordRejected(Exception):
    """The password cannot be accepted; the message says what is wrong with it."""


def new_token(user: UUID) -> str:
    return f"{TOKEN_PREFIX}_{user.hex}_{secrets.token_urlsafe(32)}"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_user_id(token: str) -> UUID | None:
    """The user id a token names, or None when the token is not in the `lp_<hex>_<secret>` form."""
    prefix, _, rest = token.partition("_")
    hex_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or len(hex_id) != 32 or not secret:
        return None
    try:
        return UUID(hex=hex_id)
    except ValueError:
        return None


def verify_token(app: Leanplan, token: str) -> User | None:
    """The token's user if the token is that user's current one; compared in constant time."""
    found_id = token_user_id(token)
    if found_id is None:
        return None
    try:
        user = app.user_by_id(found_id)
    except UserNotFound:
        return None
    return user if hmac.compare_digest(hash_token(token), user.token_hash) else None


def hash_password(password: str) -> str:
    """`scrypt$n$r$p$salt$key`, salt and key in base64."""
    _check_password(password)
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(key)])


def verify_password(password: str, stored: str | None) -> bool:
    """False for a wrong password and for a stored hash this module cannot read."""
    if stored is None:
        return False
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = (int(part) for part in parts[1:4])
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
        candidate = _scrypt(password, salt, n, r, p, len(key))
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(candidate, key)


def register_user(
    app: Leanplan, name: str, *, email: str, actor: str, password: str | None = None
) -> str:
    """Creates the user and returns their API token: the only time it exists outside a hash."""
    token = new_token(user_id(name))
    app.register_user(
        name,
        email=email,
        token_hash=hash_token(token),
        password_hash=None if password is None else hash_password(password),
        actor=actor,
    )
    return token


def _check_password(password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise PasswordRejected(
            f"a password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, length: int = _KEY_BYTES) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_MAX_SCRYPT_MEMORY, dklen=length
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
