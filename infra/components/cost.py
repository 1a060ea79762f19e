"""AWS Budgets monthly cost budget for one stack, notifying the alarm topic (and e-mail)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.project import component_type

# Percent of the monthly limit at which to notify, on actual spend; plus one on the forecast.
ACTUAL_THRESHOLDS = (50, 80, 100)
FORECAST_THRESHOLD = 100


@dataclass
class CostBudgetArgs:
    """Inputs of `CostBudget`."""

    stack: str
    monthly_limit_usd: int
    topic_arn: pulumi.Input[str]
    topic_policy: pulumi.Resource
    """The topic's policy: AWS Budgets may publish only once it exists, so the budget waits for it."""
    alarm_email: str | None = None


class CostBudget(pulumi.ComponentResource):
    """A monthly COST budget: resources tagged environment=<stack>, plus costs carrying no such tag."""

    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: CostBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(component_type("CostBudget"), name, None, opts)
        emails = [args.alarm_email] if args.alarm_email else None

        def notify(kind: str, threshold: int) -> aws.budgets.BudgetNotificationArgs:
            return aws.budgets.BudgetNotificationArgs(
                comparison_operator="GREATER_THAN",
                notification_type=kind,
                threshold=threshold,
                threshold_type="PERCENTAGE",
                subscriber_sns_topic_arns=[args.topic_arn],
                subscriber_email_addresses=emails,
            )

        budget = aws.budgets.Budget(
            f"{name}-monthly",
            budget_type="COST",
            time_unit="MONTHLY",
            limit_amount=str(args.monthly_limit_usd),
            limit_unit="USD",
            # `environment$<stack>` is this stack's tagged resources; `environment$` (no value) is every cost
            # with no environment tag (data transfer, services that take no tags), which any stack in the
            # account may cause, so each stack's budget counts it. Until the `environment` cost allocation
            # tag is activated (Billing console, once per account) all costs are untagged: the budget then
            # errs high, counting the whole account, never low.
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(
                    name="TagKeyValue", values=[f"user:environment${args.stack}", "user:environment$"]
                )
            ],
            notifications=[notify("ACTUAL", t) for t in ACTUAL_THRESHOLDS] + [notify("FORECASTED", FORECAST_THRESHOLD)],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[args.topic_policy]),
        )
        self.budget_name = budget.name
        self.register_outputs({"budget_name": self.budget_name})
