"""Rewrite the README's configuration table from service.settings (`make docs`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from service.settings import markdown_reference

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- settings-table:start -->\n).*?(<!-- settings-table:end -->)", re.DOTALL)


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + markdown_reference() + "\n" + m.group(2), text)


if __name__ == "__main__":
    current = README.read_text()
    updated = render(current)
    if "--check" in sys.argv:
        sys.exit(0 if updated == current else "README.md's configuration table is stale: run `make docs`")
    README.write_text(updated)
