"""The OpenAPI document: valid, complete, and true; schemathesis fuzzes every operation in-process.

Schemathesis's own pytest plugin (`from_fixture`) sets `Node._nodeid`, which pytest 9 no longer
has, so each operation's strategies are driven with hypothesis directly: positive cases (valid by
the document) and negative ones (invalid), against a real plan, milestone and assumption the caller
owns. Every operation in the document is covered, those other modules add included. Every answer
must be no server error and conform to the document.

Whether the status fits the data is left to the route tests: schema-valid data may still be refused
(422), as the domain's rules (a known time zone, a plausible budget) go beyond what the document can
say, and schemathesis counts a generated query parameter it then does not send as invalid data.
"""

from __future__ import annotations

from itertools import count
from typing import Any
from uuid import UUID

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.support import Caller

CONTRACT = [
    ("POST", "/plans"),
    ("GET", "/plans"),
    ("GET", "/plans/{plan_id}"),
    ("POST", "/plans/{plan_id}/milestones"),
    ("PATCH", "/plans/{plan_id}/milestones/{milestone_id}"),
    ("POST", "/plans/{plan_id}/milestones/{milestone_id}/reschedule"),
    ("POST", "/plans/{plan_id}/milestones/{milestone_id}/complete"),
    ("POST", "/plans/{plan_id}/milestones/{milestone_id}/reopen"),
    ("POST", "/plans/{plan_id}/milestones/{milestone_id}/cancel"),
    ("POST", "/plans/{plan_id}/assumptions"),
    ("POST", "/plans/{plan_id}/assumptions/{assumption_id}/validate"),
    ("POST", "/plans/{plan_id}/assumptions/{assumption_id}/invalidate"),
    ("PUT", "/plans/{plan_id}/review-cadence"),
    ("POST", "/plans/{plan_id}/reviews"),
    ("GET", "/plans/{plan_id}/history"),
    ("GET", "/plans/{plan_id}/changes"),
    ("POST", "/plans/{plan_id}/members"),
    ("DELETE", "/plans/{plan_id}/members/{user}"),
]
"""Every route of the issue's table (the document itself aside), as the document names them."""

MAX_REQUESTS = 1_000
"""The budget of generated requests for the whole document, shared evenly by its operations."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
"""Checks of the answer alone, so each example costs exactly one request (some other checks send
their own), and none that second-guess the domain (see the module docstring)."""


def test_the_document_is_valid_openapi(anonymous: Caller) -> None:
    validate(anonymous.get("/openapi.json").json)


def test_the_document_describes_every_route_of_the_contract(anonymous: Caller) -> None:
    document = anonymous.get("/openapi.json").json

    operations = [
        (method.upper(), path.removeprefix("/api/v1"))
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    ]

    assert set(CONTRACT) <= set(operations)  # others may extend the API, not change it
    assert document["security"] == [{"bearerAuth": []}]


@pytest.mark.slow
def test_no_generated_request_makes_the_server_fail(
    app: Flask,
    tokens: dict[str, str],
    plan_id: UUID,
    milestone_id: UUID,
    assumption_id: UUID,
    subtests: pytest.Subtests,
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    examples = MAX_REQUESTS // (2 * len(operations))
    known = {
        "plan_id": plan_id,
        "milestone_id": milestone_id,
        "assumption_id": assumption_id,
        "user": "bob",
    }
    headers = {"Authorization": f"Bearer {tokens['alice']}"}
    sent = count()

    for operation in operations:
        pinned = {
            name: str(value) for name, value in known.items() if f"{{{name}}}" in operation.path
        }
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode, path_parameters=pinned or None))
            @settings(
                max_examples=examples,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def answers_properly(case: Any) -> None:
                next(sent)
                response = case.call(headers=headers)
                case.validate_response(response, headers=headers, checks=CHECKS)

            with subtests.test(msg=f"{operation.label} ({mode.value})"):
                answers_properly()

    assert next(sent) <= MAX_REQUESTS
