"""AWS Budgets monthly cost budget for one stack, notifying the alarm topic (and e-mail)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# Percent of the monthly limit at which to notify, on actual spend; plus one on the forecast.
ACTUAL_THRESHOLDS = (50, 80, 100)
FORECAST_THRESHOLD = 100


@dataclass
class CostBudgetArgs:
    """Inputs of `CostBudget`."""

    stack: str
    monthly_limit_usd: int
    topic_arn: pulumi.Input[str]
    alarm_email: str | None = None


class CostBudget(pulumi.ComponentResource):
    """A monthly COST budget filtered to resources tagged environment=<stack>."""

    budget_name: pulumi.Output[str]

    def __init__(self, name: str, args: CostBudgetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("openai-aws-template:index:CostBudget", name, None, opts)
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
            # Counts only this stack's resources once the `environment` cost allocation tag is activated
            # (Billing console, once per account); until then the budget sees nothing.
            cost_filters=[
                aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:environment${args.stack}"])
            ],
            notifications=[notify("ACTUAL", t) for t in ACTUAL_THRESHOLDS] + [notify("FORECASTED", FORECAST_THRESHOLD)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.budget_name = budget.name
        self.register_outputs({"budget_name": self.budget_name})
