"""Domain errors → HTTP answers, decided here once for the API, the pages and the feeds.

`status_for` and `messages_for` are what any blueprint needs to answer a broken rule; `install`
makes every error under the API prefix a JSON body `{"errors": {"field": ["message", ...]}}`,
including the ones Flask and flask-smorest raise before a view runs (routing, malformed JSON,
validation), so an API client only ever parses one error shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eventsourcing.persistence import OperationalError
from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError, default_exceptions

from domain.errors import (
    AccessDenied,
    ConcurrentChange,
    DomainError,
    InvalidInput,
    NotFound,
    TransitionForbidden,
)

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
REQUEST = "_request"
"""The key for errors about the request as a whole rather than one of its fields."""

_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (InvalidInput, 422),
    (NotFound, 404),
    (AccessDenied, 403),
    (TransitionForbidden, 409),
    (ConcurrentChange, 409),
)


def status_for(error: DomainError) -> int:
    """The HTTP status for a broken rule; one the table does not know conflicts with the plan."""
    for error_class, status in _STATUS:
        if isinstance(error, error_class):
            return status
    return 409


def messages_for(error: DomainError) -> dict[str, list[str]]:
    """The error as `{field: [message]}`: the field at fault for invalid input, else the request."""
    field = error.field if isinstance(error, InvalidInput) else REQUEST
    return {field: [str(error)]}


def error_response(
    status: int, errors: Mapping[str, list[str]], headers: Mapping[str, str] | None = None
) -> Response:
    response = jsonify(errors=dict(errors))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested messages, dotted: `{"owner": {"email": [m]}}` → `owner.email`."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            # `_schema` is marshmallow's name for a (nested) object as a whole: that object's field.
            name = (
                prefix if key == "_schema" and prefix else f"{prefix}.{key}" if prefix else str(key)
            )
            for field, texts in flatten(value, name).items():
                flat.setdefault(field, []).extend(texts)
        return flat
    texts = messages if isinstance(messages, list) else [messages]
    return {prefix or REQUEST: [str(text) for text in texts]}


def _answer(
    status: int, errors: Mapping[str, list[str]], headers: Mapping[str, str] | None = None
) -> Response | HTTPException:
    """JSON under the API prefix; elsewhere the plain HTTP error, for the pages' own handlers."""
    if request.path.startswith(API_PREFIX):
        return error_response(status, errors, headers)
    return default_exceptions[status](description=" ".join(t for ts in errors.values() for t in ts))


def _http_error(error: HTTPException) -> Response | HTTPException:
    if not request.path.startswith(API_PREFIX):
        return error
    data = getattr(error, "data", None) or {}
    errors: dict[str, list[str]] = {}
    # flask-smorest nests field messages under the request location (`json`, `query`); field names
    # do not repeat across locations in this API, so the location is dropped.
    for messages in (data.get("messages") or {}).values():
        for field, texts in flatten(messages).items():
            errors.setdefault(field, []).extend(texts)
    headers = {k: v for k, v in error.get_headers() if k != "Content-Type"}
    headers.update(data.get("headers") or {})
    status = error.code or 500
    return error_response(status, errors or {REQUEST: [error.description or error.name]}, headers)


def _domain_error(error: DomainError) -> Response | HTTPException:
    return _answer(status_for(error), messages_for(error))


def _storage_busy(error: OperationalError) -> Response | HTTPException:
    """The database is locked or unreachable: the request may succeed if repeated shortly."""
    log.warning("storage unavailable: %s", error)
    return _answer(
        503,
        {REQUEST: ["the store is busy or unreachable; try again shortly"]},
        {"Retry-After": "1"},
    )


def _unexpected(error: InternalServerError) -> Response | HTTPException:
    """Flask has logged the cause; the client learns only that it was not their fault."""
    return _answer(500, {REQUEST: ["an unexpected error occurred; it has been logged"]})


def install(app: Flask) -> None:
    """Registers the JSON error answers on the app (after flask-smorest, replacing its handler)."""
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, _unexpected)
    app.register_error_handler(DomainError, _domain_error)
    app.register_error_handler(OperationalError, _storage_busy)
