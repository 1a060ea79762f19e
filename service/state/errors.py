"""What the shared-state layer raises when it cannot answer."""

from __future__ import annotations


class StateUnavailable(Exception):
    """The shared-state backend (Redis) did not answer; callers apply the failure policy."""


class StateBusy(StateUnavailable):
    """Every pooled connection stayed in use for the whole wait: this one call fails, Redis is not down."""


class StateRefused(Exception):
    """Limits and budgets are failing closed because the shared state is unavailable."""

    def __init__(self, component: str) -> None:
        super().__init__(f"{component} cannot be checked: the shared state (Redis) is unavailable")
        self.component = component
