"""A bounded fuzz pass over the OpenAPI schema: no 5xx, no response that breaks the schema.

Every operation is called with generated bodies, paths and queries, valid (positive) and
invalid (negative), under an admin key, which every route admits; each response is checked
against the status codes, content types and body schemas the schema declares. Failures are
collected per operation so that one run names every broken operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from serving.main import create_app

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES_PER_MODE = 3


def fuzz_operation(operation, mode: GenerationMode, headers: dict[str, str]) -> None:
    @hypothesis_settings(
        max_examples=EXAMPLES_PER_MODE,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:  # noqa: ANN001 - a schemathesis Case
        case.call_and_validate(headers=headers, checks=CHECKS)

    run()


@pytest.mark.slow
def test_no_server_error_and_responses_match_the_schema(settings, tokens, admin):
    # Its own app: schemathesis runs the app's lifespan and ends it when the test ends.
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(settings))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    failures = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                fuzz_operation(operation, mode, admin)
            except Unsatisfiable:
                continue  # nothing to make invalid: the operation takes no input
            except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - reported below
                failures.append(f"{operation.label} [{mode.value}]: {error}")
    assert not failures, "\n\n".join(failures)
