"""Calendar link passwords, encrypted at rest with a key from LEANPLAN_SECRET_KEY.

A CalDAV password must be usable again (the worker logs in with it), so it cannot be hashed like
an API token; it is encrypted with Fernet (AES-128-CBC + HMAC-SHA256, authenticated) under a key
derived from LEANPLAN_SECRET_KEY with HKDF, so any long random string works as that setting.
The ciphertext lives in its own table beside the event store, keyed by the link id — never in an
event, which would put it in every export and keep it forever. Deleting the row forgets it.

Without LEANPLAN_SECRET_KEY no link can be created or synced (SecretKeyMissing); with a
different key than the one that encrypted, the password reads as SecretUnreadable — the link is
then marked failing, and linking the calendar again stores it under the new key.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from uuid import UUID

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from adapters.caldav_state import SideDatabase

SECRET_KEY_ENV = "LEANPLAN_SECRET_KEY"
_INFO = b"leanplan calendar link passwords v1"


class SecretKeyMissing(Exception):
    """LEANPLAN_SECRET_KEY is not set, so passwords can be neither stored nor read."""


class SecretUnreadable(Exception):
    """No password is stored for the link, or it was encrypted under another key."""


def cipher(secret_key: str) -> Fernet:
    """The Fernet key for `secret_key`: HKDF-SHA256, so its length and alphabet do not matter."""
    if not secret_key.strip():
        raise SecretKeyMissing(
            f"set {SECRET_KEY_ENV} to a long random string to store calendar passwords"
        )
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(
        secret_key.strip().encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def cipher_from_environ(environ: Mapping[str, str] = os.environ) -> Fernet:
    return cipher(environ.get(SECRET_KEY_ENV, ""))


class LinkSecrets:
    """Encrypted passwords by link id."""

    def __init__(self, database: SideDatabase, fernet: Fernet) -> None:
        self._db = database
        self._fernet = fernet
        with self._db.schema() as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS leanplan_link_secrets ("
                "link_id TEXT PRIMARY KEY, ciphertext TEXT NOT NULL)"
            )

    def put(self, link_id: UUID, password: str) -> None:
        token = self._fernet.encrypt(password.encode()).decode()
        with self._db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO leanplan_link_secrets (link_id, ciphertext) VALUES (?, ?) "
                "ON CONFLICT (link_id) DO UPDATE SET ciphertext = excluded.ciphertext",
                (str(link_id), token),
            )

    def get(self, link_id: UUID) -> str:
        with self._db.transaction() as cursor:
            cursor.execute(
                "SELECT ciphertext FROM leanplan_link_secrets WHERE link_id = ?", (str(link_id),)
            )
            rows = cursor.rows()
        if not rows:
            raise SecretUnreadable("no password is stored for this calendar link")
        try:
            return self._fernet.decrypt(rows[0][0].encode()).decode()
        except InvalidToken:
            raise SecretUnreadable(
                f"the stored password was encrypted under another {SECRET_KEY_ENV}; link the calendar again"
            ) from None

    def delete(self, link_id: UUID) -> None:
        with self._db.transaction() as cursor:
            cursor.execute("DELETE FROM leanplan_link_secrets WHERE link_id = ?", (str(link_id),))
