"""Schemathesis hooks for tests/service/api/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

One deliberate difference between JSON Schema and this API is kept out of the failure list, and only
that one: JSON Schema counts `2.0` as an integer, while OpenAI, and so this service, refuse it for an
integer field ("expected an integer") before any upstream call (issue 12, defect 4). Schemathesis sends
whole floats for integer fields on purpose and reports each such refusal as "Schema-valid request
rejected" (ST202); a refusal naming another field, or for another reason, is still a failure.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData


def _integer_refused_as_a_whole_float(case: Any, response: Any) -> bool:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    field, body = error.get("param"), case.body
    value = body.get(field) if isinstance(body, dict) and isinstance(field, str) else None
    return "valid integer" in str(error.get("message")) and isinstance(value, float) and value.is_integer()


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """True keeps the failure."""
    if isinstance(failure, RejectedPositiveData) and response.status_code == 400:
        return not _integer_refused_as_a_whole_float(case, response)
    return True
