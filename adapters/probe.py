"""Asking the event store whether it answers, for readiness checks and metrics.

The recorder's own queries retry for seconds on PostgreSQL (ten attempts, each waiting up to
POSTGRES_CONNECT_TIMEOUT for a connection), which would hold a probe long past any deadline
while the database is down. A bare query on the same connections goes first and fails at once,
so a probe answers within one connect timeout.
"""

from __future__ import annotations

from domain.application import Leanplan


def last_notification_id(app: Leanplan) -> int:
    """The newest notification id in the event log (0 when it is empty).

    Raises `eventsourcing.persistence.PersistenceError` when the store does not answer.
    """
    datastore = getattr(app.recorder, "datastore", None)
    if datastore is not None:  # the in-memory store has none, and is always there
        with datastore.transaction(commit=False) as cursor:
            cursor.execute("SELECT 1")
    return app.recorder.max_notification_id() or 0
