"""The AWS price table: data in aws_prices.json, with the date it was taken and a source next to each price."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

PRICES_FILE: Final = Path(__file__).with_name("aws_prices.json")


class MissingPrice(LookupError):
    """The program uses something the price table has no price for; the message says what to add where."""


@dataclass(frozen=True)
class Price:
    """One list price: `usd` per `per`, and where it was read."""

    key: str
    usd: float
    per: str
    source: str

    def __str__(self) -> str:
        amount = f"{self.usd:.2f}" if round(self.usd, 2) == self.usd else f"{self.usd:g}"
        return f"${amount}/{self.per}"


@dataclass(frozen=True)
class PriceTable:
    """aws_prices.json, read once. Lookups of a missing entry raise `MissingPrice` naming the file."""

    taken_on: str
    region: str
    checked: str
    note: str
    raw: dict[str, Any]

    def price(self, key: str) -> Price:
        return self._entry("prices", key)

    def per_use(self, key: str) -> Price:
        return self._entry("per_use", key)

    def assumption(self, key: str) -> float:
        try:
            return float(self.raw["assumptions"][key]["value"])
        except KeyError:
            raise MissingPrice(f"no assumption {key!r} in {PRICES_FILE.name}: add it with its value and why") from None

    def cache_node_hour(self, engine: str, node_type: str) -> Price:
        nodes = self.raw["elasticache_node_hour"]
        try:
            usd = float(nodes[engine][node_type])
        except KeyError:
            raise MissingPrice(
                f"no price for {engine} node type {node_type} in {PRICES_FILE.name}: add it under "
                f"elasticache_node_hour.{engine} from {nodes['source']}"
            ) from None
        return Price(f"elasticache_node_hour.{engine}.{node_type}", usd, "node-hour", str(nodes["source"]))

    @property
    def hours(self) -> float:
        return self.assumption("hours_per_month")

    def _entry(self, section: str, key: str) -> Price:
        try:
            entry = self.raw[section][key]
        except KeyError:
            raise MissingPrice(
                f"no price {key!r} under {section} in {PRICES_FILE.name}: add it with its source"
            ) from None
        return Price(key, float(entry["usd"]), str(entry["per"]), str(entry["source"]))


@functools.cache
def load(path: Path = PRICES_FILE) -> PriceTable:
    raw = json.loads(path.read_text())
    return PriceTable(raw["taken_on"], raw["region"], raw["checked"], raw["note"], raw)
