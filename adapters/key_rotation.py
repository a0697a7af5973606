"""Re-encrypting calendar-link passwords from an old LEANPLAN_SECRET_KEY to a new one.

The passwords are the only data encrypted under the key (sessions are merely signed, so a new key
just signs everybody out). Rotation runs offline, with web and sync stopped, in one transaction:
either every password moves to the new key or none does. It can run again safely: a password the
new key already opens is left as it is, so a second run after a partial deployment moves only what
is still under the old key.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from adapters.caldav_state import SideDatabase
from adapters.secrets import LinkSecrets


@dataclass(frozen=True)
class Rotation:
    rotated: int
    """Passwords that were under the old key and are now under the new one."""
    already_new: int
    """Passwords the new key opened already (an earlier run, or a link made since)."""
    unreadable: tuple[UUID, ...]
    """Links whose password neither key opens: they must be linked again."""


def rotate_link_secrets(database: SideDatabase, old: Fernet, new: Fernet) -> Rotation:
    LinkSecrets(database, new)  # creates the table when no link was ever made
    rotated: list[tuple[str, str]] = []
    already_new, unreadable = 0, []
    both = MultiFernet([new, old])
    with database.transaction() as cursor:
        cursor.execute("SELECT link_id, ciphertext FROM leanplan_link_secrets ORDER BY link_id")
        for link_id, ciphertext in cursor.rows():
            token = ciphertext.encode()
            if _opens(new, token):
                already_new += 1
            elif _opens(old, token):
                rotated.append((both.rotate(token).decode(), link_id))
            else:
                unreadable.append(UUID(link_id))
        if rotated:
            cursor.executemany(
                "UPDATE leanplan_link_secrets SET ciphertext = ? WHERE link_id = ?", rotated
            )
    return Rotation(len(rotated), already_new, tuple(unreadable))


def _opens(fernet: Fernet, token: bytes) -> bool:
    try:
        fernet.decrypt(token)
    except InvalidToken:
        return False
    return True
