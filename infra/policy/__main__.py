"""Entry point `pulumi preview --policy-pack infra/policy` runs; the rules are in `rules.py`."""

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.policy.rules import policies

PolicyPack(
    name="openai-aws-template",
    policies=policies(),
    # Each rule sets its own level; this only applies to a rule that does not.
    enforcement_level=EnforcementLevel.MANDATORY,
)
