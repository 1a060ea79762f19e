"""The project's name, read from Pulumi.yaml: the one place it is set (`make rename NAME=...` changes it).

Stack config keys are namespaced with it, component type tokens and AWS resource names derive from it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import yaml

PROJECT: Final[str] = str(yaml.safe_load((Path(__file__).resolve().parents[1] / "Pulumi.yaml").read_text())["name"])


def component_type(noun: str) -> str:
    """A component's type token, `<project>:index:<Noun>` (Pulumi's convention for a program's own types)."""
    return f"{PROJECT}:index:{noun}"
