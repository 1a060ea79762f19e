"""Estimates as text for the terminal, and as the markdown the docs carry (generated, with a drift check)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from infra.pricing.estimate import Estimate, Line
from infra.pricing.prices import PRICES_FILE, Price

# Categories in the order the tables list them.
CATEGORIES: Final = (
    "Fargate",
    "Load balancer",
    "NAT gateways",
    "Public IPv4 addresses",
    "Cache",
    "VPC endpoints",
    "KMS and Secrets Manager",
    "CloudWatch",
    "ECR",
)
COMMAND: Final = "make cost"
SOURCE: Final = f"infra/pricing/{PRICES_FILE.name}"


def _order(line: Line) -> tuple[int, str]:
    return CATEGORIES.index(line.category) if line.category in CATEGORIES else len(CATEGORIES), line.resource


def _price(line: Line) -> str:
    text = " + ".join(str(p) for p in line.prices)
    return f"{text}; {line.basis}" if line.basis else text


def _usd(amount: float) -> str:
    return f"${amount:,.2f}"


def _per_use(prices: Iterable[Price]) -> str:
    return "; ".join(f"{p} ({p.key})" for p in prices)


def text(estimate: Estimate) -> str:
    """Every billable resource of one stack, its monthly cost and the total, as the terminal shows it."""
    table = estimate.table
    changed = "".join(f" {k}={v}" for k, v in estimate.overrides.items())
    rows = [("resource", "what", "count", "price", "$/month")]
    rows += [
        (line.resource, line.what, f"{line.count:g}", _price(line), f"{line.monthly:.2f}")
        for line in sorted(estimate.lines, key=_order)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    body = [
        f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:>{widths[2]}}  {r[3]:<{widths[3]}}  {r[4]:>8}" for r in rows
    ]
    total_width = sum(widths) + 8
    return "\n".join(
        [
            f"{estimate.stack}{changed}: {_usd(estimate.total)} a month at minimum size, idle",
            f"{table.region} list prices taken on {table.taken_on} ({SOURCE}): re-check them against the sources "
            "there before relying on this.",
            "",
            *body,
            f"{'total':>{total_width}}  {estimate.total:>8.2f}",
            "",
            f"Per use, not in the total: {_per_use(estimate.per_use)}.",
            "Account-wide free tiers (alarm metrics, custom metrics, dashboards, logs, data out) are not subtracted.",
        ]
    )


def _cell(lines: Sequence[Line]) -> str:
    if not lines:
        return "-"
    merged: dict[tuple[str, float], float] = {}
    for line in lines:
        merged[(line.what, line.unit_usd)] = merged.get((line.what, line.unit_usd), 0.0) + line.count
    parts = [f"{count:g} x {what}" for (what, _), count in merged.items()]
    return f"{', '.join(parts)}: {_usd(sum(line.monthly for line in lines))}"


@dataclass(frozen=True)
class Lever:
    """One config change and what the stack then costs."""

    change: str
    """The change as it reads in the stack file, e.g. `natGateways: single`."""
    trade_off: str
    before: Estimate
    after: Estimate


def markdown(estimates: Sequence[Estimate], levers: Sequence[Lever] = ()) -> str:
    """The docs' cost section body: per-category costs side by side, the prices used, per-use prices, levers."""
    table = estimates[0].table
    head = "| item | " + " | ".join(e.stack for e in estimates) + " |"
    rows = [head, "| --- |" + " ---: |" * len(estimates)]
    used = {line.category for e in estimates for line in e.lines}
    for category in (c for c in CATEGORIES if c in used):
        cells = [_cell([line for line in e.lines if line.category == category]) for e in estimates]
        rows.append(f"| {category} | " + " | ".join(cells) + " |")
    rows.append("| **total** | " + " | ".join(f"**{_usd(e.total)}/month**" for e in estimates) + " |")
    prices: dict[str, Price] = {p.key: p for e in estimates for line in e.lines for p in line.prices}
    per_use: dict[str, Price] = {p.key: p for e in estimates for p in e.per_use}
    parts = [
        f"Printed by `{COMMAND}` (`python -m infra.pricing --markdown`) from `{SOURCE}`: {table.region} list "
        f"prices taken on {table.taken_on}, written down from AWS's published prices rather than re-read that "
        "day. **Re-check them against the sources below before relying on these figures.** Each stack runs at "
        "its minimum size (`minTasks`, nothing scaled out) and idle: traffic adds the per-use prices below. "
        "Account-wide free tiers are not subtracted.",
        "",
        *rows,
        "",
        "Prices used (`" + SOURCE + "`):",
        "",
        *(f"- `{p.key}`: {p} — {p.source}" for p in sorted(prices.values(), key=lambda p: p.key)),
        "- Fargate Spot, Container Insights and ECR storage follow the assumptions in the same file "
        "(`assumptions`, each with its reason).",
        "",
        "Per use, not in the totals:",
        "",
        *(f"- {p} — {p.source}" for p in sorted(per_use.values(), key=lambda p: p.key)),
    ]
    if levers:
        parts += [
            "",
            "Levers, each priced by the same command on one stack with one change (`make cost STACK=<stack> "
            'COST_ARGS="--set key=value"`):',
            "",
            "| change | stack | per month | difference | trade-off |",
            "| --- | --- | ---: | ---: | --- |",
            *(
                f"| `{lever.change}` | {lever.before.stack} | {_usd(lever.after.total)} | "
                f"{'+' if lever.after.total >= lever.before.total else '-'}"
                f"{_usd(abs(lever.after.total - lever.before.total))} | {lever.trade_off} |"
                for lever in levers
            ),
        ]
    return "\n".join(parts) + "\n"


BLOCK: Final = re.compile(r"(<!-- cost-table:start -->\n).*?(<!-- cost-table:end -->)", re.DOTALL)
FIGURE: Final = re.compile(r"<!-- cost:(?P<key>[\w-]+) -->.*?<!-- /cost -->")


def render(document: str, body: str, figures: Mapping[str, str]) -> str:
    """`document` with its generated cost block and its inline figures (`<!-- cost:prod -->...`) replaced."""
    document = BLOCK.sub(lambda m: m.group(1) + body + m.group(2), document)

    def figure(match: re.Match[str]) -> str:
        key = match.group("key")
        if key not in figures:
            raise KeyError(f"unknown cost figure {key!r}: use one of {sorted(figures)}")
        return f"<!-- cost:{key} -->{figures[key]}<!-- /cost -->"

    return FIGURE.sub(figure, document)
