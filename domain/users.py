"""People who sign in: a user's id follows from the name, so a name can be taken only once."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import values
from domain.errors import InvalidInput

_USERS = UUID("3b0d6f6e-8a53-4d8e-bd0c-0f6f7c1f2a44")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def user_id(name: str) -> UUID:
    return uuid5(_USERS, name.lower())


class User(Aggregate):
    """Holds only hashes of secrets: the password hash and the API token hash."""

    class Event(Aggregate.Event):
        actor: str
        reason: str | None

    class UserRegistered(Event, Aggregate.Created):
        name: str
        email: str
        password_hash: str | None
        token_hash: str

    class UserTokenIssued(Event):
        token_hash: str

        def apply(self, user: User) -> None:
            user.token_hash = self.token_hash

    class UserPasswordSet(Event):
        password_hash: str

        def apply(self, user: User) -> None:
            user.password_hash = self.password_hash

    def __init__(self, name: str, email: str, password_hash: str | None, token_hash: str) -> None:
        self.name = name
        self.email = email
        self.password_hash = password_hash
        self.token_hash = token_hash

    @classmethod
    def register(
        cls, name: str, *, email: str, password_hash: str | None, token_hash: str, actor: str
    ) -> User:
        if not _NAME.fullmatch(name):
            raise InvalidInput(
                "a user name is 1 to 64 letters, digits, dots, dashes or underscores", field="name"
            )
        values.Person(name, email)
        return cls._create(
            cls.UserRegistered,
            id=user_id(name),
            actor=values.actor(actor),
            reason=None,
            name=name,
            email=email,
            password_hash=password_hash,
            token_hash=token_hash,
        )

    def issue_token(self, token_hash: str, *, actor: str) -> None:
        self._record(self.UserTokenIssued, actor, token_hash=token_hash)

    def set_password(self, password_hash: str, *, actor: str) -> None:
        self._record(self.UserPasswordSet, actor, password_hash=password_hash)

    def _record(self, event_class: type[User.Event], actor: str, **fields: Any) -> None:
        self.trigger_event(event_class, actor=values.actor(actor), reason=None, **fields)
