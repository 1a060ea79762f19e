"""Prices, spend budgets (reserve, then settle) and the soft-limit signal."""

from service.budget.alerts import signal_soft_limits
from service.budget.periods import Period, PeriodWindow, current_windows
from service.budget.prices import NANOS_PER_USD, ModelPrice, PriceTable, UnknownModelPrice, nanos_from_usd, usd
from service.budget.spend import (
    BudgetExceeded,
    BudgetPlan,
    Reservation,
    SoftLimitReached,
    SpendBudget,
    SpendLimits,
)

__all__ = [
    "NANOS_PER_USD",
    "BudgetExceeded",
    "BudgetPlan",
    "ModelPrice",
    "Period",
    "PeriodWindow",
    "PriceTable",
    "Reservation",
    "SoftLimitReached",
    "SpendBudget",
    "SpendLimits",
    "UnknownModelPrice",
    "current_windows",
    "nanos_from_usd",
    "signal_soft_limits",
    "usd",
]
