"""What the browser tests know about the server under test."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Server:
    """A running `leanplan serve`: where it answers, its store, and a user who can sign in."""

    url: str
    database_url: str
    user: str
    password: str
