"""Write what is generated from service.settings (`make docs`): the README's configuration table and
`.env.example`. `--check` (run by `make lint`) changes nothing and fails if either has drifted."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from service.settings import Settings, markdown_reference

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
ENV_EXAMPLE = ROOT / ".env.example"
BLOCK = re.compile(r"(<!-- settings-table:start -->\n).*?(<!-- settings-table:end -->)", re.DOTALL)
ENV_HEADER = """\
# Settings for `make run`, which reads .env when there is one: copy this file to .env and uncomment
# what you change. Every line shows the default. Generated from service/settings.py by `make docs`
# (`make lint` fails when it drifts); the README's configuration table says the same.
# Stacks in AWS take these through `serviceSettings` in Pulumi.<stack>.yaml instead (docs/infrastructure.md).
"""


def render(text: str) -> str:
    return BLOCK.sub(lambda m: m.group(1) + markdown_reference() + "\n" + m.group(2), text)


def env_example() -> str:
    blocks = []
    for name, field in Settings.model_fields.items():
        env = str(field.validation_alias or name.upper())
        default: Any = field.default_factory() if field.default_factory is not None else field.default  # type: ignore[call-arg]
        comment = f"# {field.description}\n" if field.description else ""
        blocks.append(f"{comment}# {env}={_env_value(default)}\n")
    return ENV_HEADER + "\n" + "\n".join(blocks)


def _env_value(value: Any) -> str:
    if value is None or value in ({}, []):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value)


def main(check: bool) -> int:
    stale = []
    for path, wanted in ((README, render(README.read_text())), (ENV_EXAMPLE, env_example())):
        current = path.read_text() if path.exists() else ""
        if current != wanted:
            stale.append(path.name)
            if not check:
                path.write_text(wanted)
    if check and stale:
        print(f"{' and '.join(stale)} drifted from service/settings.py: run `make docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(check="--check" in sys.argv))
