"""Settings from adapters.store drive a real eventsourcing Application on SQLite and PostgreSQL."""

from __future__ import annotations

from uuid import UUID

import psycopg
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError

from adapters.store import eventsourcing_env


class Note(Aggregate):
    """A throwaway aggregate: just enough state to tell one version from the next."""

    def __init__(self, text: str) -> None:
        self.text = text

    @event("Edited")
    def edit(self, text: str) -> None:
        self.text = text


class Notes(Application[UUID]):
    """A throwaway application; its name decides the PostgreSQL table names."""


def _write_note(app: Notes, *texts: str) -> UUID:
    note = Note(texts[0])
    for text in texts[1:]:
        note.edit(text)
    app.save(note)
    return note.id


def test_the_configured_store_is_the_one_used(database_url: str) -> None:
    env = eventsourcing_env(database_url)
    with Notes(env=env) as app:
        assert type(app.recorder).__module__ == env["PERSISTENCE_MODULE"]


def test_saved_aggregate_reloads_with_all_its_events(database_url: str) -> None:
    with Notes(env=eventsourcing_env(database_url)) as app:
        note_id = _write_note(app, "draft", "final")
        reloaded: Note = app.repository.get(note_id)
        assert (reloaded.text, reloaded.version) == ("final", 2)
        assert app.repository.get(note_id, version=1).text == "draft"


def test_second_application_on_the_same_url_sees_the_first_ones_events(database_url: str) -> None:
    env = eventsourcing_env(database_url)
    with Notes(env=env) as first, Notes(env=env) as second:
        note_id = _write_note(first, "from first")
        assert second.repository.get(note_id).text == "from first"

        note: Note = second.repository.get(note_id)
        note.edit("from second")
        second.save(note)
        assert first.repository.get(note_id).text == "from second"

        notifications = first.recorder.select_notifications(start=1, limit=10)
        assert [n.topic.partition(":")[2] for n in notifications] == [
            "Note.Created",
            "Note.Edited",
        ]


def test_data_outlives_the_application(database_url: str) -> None:
    env = eventsourcing_env(database_url)
    with Notes(env=env) as app:
        note_id = _write_note(app, "kept")
    with Notes(env=env) as reopened:
        assert reopened.repository.get(note_id).text == "kept"


def test_stale_write_from_another_instance_is_refused(database_url: str) -> None:
    env = eventsourcing_env(database_url)
    with Notes(env=env) as first, Notes(env=env) as second:
        note_id = _write_note(first, "v1")
        mine: Note = first.repository.get(note_id)
        theirs: Note = second.repository.get(note_id)
        mine.edit("mine")
        first.save(mine)
        theirs.edit("theirs")
        with pytest.raises(IntegrityError):
            second.save(theirs)
        assert first.repository.get(note_id).text == "mine"


@pytest.mark.postgres
def test_postgres_schema_parameter_puts_tables_in_that_schema(postgres_url: str) -> None:
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA plans")
    with Notes(env=eventsourcing_env(f"{postgres_url}?schema=plans")) as app:
        note_id = _write_note(app, "in schema")
        assert app.repository.get(note_id).text == "in schema"
    with psycopg.connect(postgres_url) as conn:
        tables = conn.execute(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'notes_events'"
        ).fetchall()
    assert tables == [("plans",)]
