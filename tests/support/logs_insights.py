"""A small evaluator for the subset of CloudWatch Logs Insights the queries in docs/ use.

Commands: `fields a, b`, `filter <condition>`, `stats <agg>(...) as name, ... by a, b`, `sort a desc|asc`,
`limit n`. Conditions: `field = "text"`, `field != "text"`, `field <op> number` (= != < <= > >=),
`ispresent(field)`, `not ispresent(field)`, joined by `and`. Aggregations: `count(*)`, `count(field)`,
`sum`, `avg`, `min`, `max`, `pct(field, p)`. Anything else raises, so a query the real service cannot
run here (and so is not tested) fails loudly instead of passing by accident.

Records are the JSON log lines as dicts; Logs Insights discovers their fields the same way for JSON logs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from typing import Any

Record = dict[str, Any]

_COMPARISON = re.compile(r'^([\w@.]+)\s*(=|!=|<=|>=|<|>)\s*(".*"|\'.*\'|-?[\d.]+)$')
_AGGREGATE = re.compile(r"^(\w+)\(([^)]*)\)(?:\s+as\s+(\w+))?$")


class UnsupportedQuery(ValueError):
    """The query uses syntax this evaluator does not know."""


def _split(text: str, sep: str) -> list[str]:
    """Split on `sep` outside quotes and parentheses."""
    parts, depth, quote, current = [], 0, "", ""
    i = 0
    while i < len(text):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith(sep, i):
            parts.append(current.strip())
            current, i = "", i + len(sep)
            continue
        current += ch
        i += 1
    parts.append(current.strip())
    return [p for p in parts if p]


def _condition(text: str) -> Callable[[Record], bool]:
    clauses = _split(text, " and ")
    if len(clauses) > 1:
        checks = [_condition(c) for c in clauses]
        return lambda r: all(check(r) for check in checks)
    text = text.strip()
    negate = text.startswith("not ")
    if negate:
        text = text[4:].strip()
    if match := re.fullmatch(r"ispresent\(([\w@.]+)\)", text):
        name = match.group(1)
        return lambda r: (r.get(name) is not None) != negate
    if negate or not (match := _COMPARISON.match(text)):
        raise UnsupportedQuery(f"condition not supported: {text!r}")
    name, op, literal = match.groups()
    expected: Any = literal[1:-1] if literal[0] in "\"'" else float(literal)
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }

    def check(record: Record) -> bool:
        value = record.get(name)
        if value is None or isinstance(expected, float) != isinstance(value, int | float):
            return False
        return ops[op](value, expected)

    return check


def _aggregate(function: str, argument: str, rows: list[Record]) -> Any:
    if function == "count":
        return len(rows) if argument.strip() == "*" else sum(1 for r in rows if r.get(argument) is not None)
    name, _, extra = argument.partition(",")
    values = sorted(float(r[name]) for r in rows if isinstance(r.get(name.strip()), int | float))
    if function == "pct":
        if not values:
            return None
        rank = max(0, math.ceil(float(extra) / 100 * len(values)) - 1)
        return values[rank]
    if not values:
        return 0 if function == "sum" else None
    simple: dict[str, Callable[[list[float]], float]] = {
        "sum": sum,
        "avg": lambda v: sum(v) / len(v),
        "min": min,
        "max": max,
    }
    if function not in simple:
        raise UnsupportedQuery(f"aggregation not supported: {function}")
    return simple[function](values)


def _stats(text: str, rows: list[Record]) -> list[Record]:
    spec, _, by = text.partition(" by ")
    keys = [k.strip() for k in by.split(",")] if by else []
    groups: dict[tuple[Any, ...], list[Record]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in keys), []).append(row)
    result: list[Record] = []
    for group_key, members in groups.items():
        out: Record = dict(zip(keys, group_key, strict=True))
        for item in _split(spec, ","):
            match = _AGGREGATE.match(item)
            if not match:
                raise UnsupportedQuery(f"stats expression not supported: {item!r}")
            function, argument, alias = match.groups()
            out[alias or f"{function}({argument})"] = _aggregate(function, argument, members)
        result.append(out)
    return result


def run_query(query: str, records: Iterable[Record]) -> list[Record]:
    """Run a Logs Insights query over `records` (newest first, as Logs Insights returns by default)."""
    rows = list(records)
    for command in _split(" ".join(line.strip() for line in query.strip().splitlines()), "|"):
        verb, _, rest = command.partition(" ")
        rest = rest.strip()
        if verb == "fields":
            names = [n.strip() for n in rest.split(",")]
            rows = [{n: r.get(n) for n in names} | r for r in rows]  # fields adds columns; it filters nothing
        elif verb == "filter":
            check = _condition(rest)
            rows = [r for r in rows if check(r)]
        elif verb == "stats":
            rows = _stats(rest, rows)
        elif verb == "sort":
            name, _, direction = rest.partition(" ")
            if direction.strip() not in ("asc", "desc"):
                raise UnsupportedQuery(f"sort needs an explicit asc or desc: {rest!r}")
            present = [r for r in rows if r.get(name) is not None]
            absent = [r for r in rows if r.get(name) is None]
            rows = sorted(present, key=lambda r: r[name], reverse=direction.strip() != "asc") + absent
        elif verb == "limit":
            rows = rows[: int(rest)]
        else:
            raise UnsupportedQuery(f"command not supported: {verb!r}")
    return rows
