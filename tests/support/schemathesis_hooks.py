"""Schemathesis hooks for tests/service/api/test_openapi_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

One deliberate difference between JSON Schema and this API is kept out of the failure list, and only
that one: JSON Schema counts `2.0` as an integer, while OpenAI, and so this service, refuse it for an
integer field ("expected an integer"), and embeddings' token ids likewise, before any upstream call (issue
12, defect 4). Schemathesis sends
whole floats for integer fields on purpose and reports each such refusal as "Schema-valid request
rejected" (ST202); a refusal naming another field, or for another reason, is still a failure.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData


def _holds_a_whole_float(value: Any) -> bool:
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, list) and any(_holds_a_whole_float(item) for item in value)


def _integer_refused_as_a_whole_float(case: Any, response: Any) -> bool:
    """The refusal names an integer field (or embeddings' token ids) whose value holds a whole float."""
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return False
    field, body = error.get("param"), case.body
    top = field.split("[", 1)[0].split(".", 1)[0] if isinstance(field, str) else None
    value = body.get(top) if isinstance(body, dict) and top else None
    message = str(error.get("message"))
    return ("valid integer" in message or "token id" in message) and _holds_a_whole_float(value)


@schemathesis.hook
def filter_failure(context: Any, failure: Any, case: Any, response: Any) -> bool:
    """True keeps the failure."""
    if isinstance(failure, RejectedPositiveData) and response.status_code == 400:
        return not _integer_refused_as_a_whole_float(case, response)
    return True
