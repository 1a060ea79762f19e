"""Component tests look at every program variant unless they pick one."""

from __future__ import annotations

import pytest

from tests.infra.conftest import Programs, Run
from tests.infra.recorded import ALL


@pytest.fixture(params=ALL)
def run(request: pytest.FixtureRequest, programs: Programs) -> Run:
    return programs[request.param]
