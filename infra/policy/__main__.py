"""Entry point `pulumi preview --policy-pack infra/policy` runs; the rules are in `rules.py`.

The analyzer plugin runs this file as `__main__` (`python -m pulumi.policy`, which uses runpy).
`PolicyPack(...)` serves the pack over gRPC and never returns, so it runs only then: importing this
module (tests read `NAME` and `ENFORCEMENT_LEVEL`) builds nothing.
"""

from pulumi_policy import EnforcementLevel, PolicyPack

from infra.policy.rules import policies
from infra.project import PROJECT

NAME = PROJECT
# Each rule sets its own level; this only applies to a rule that does not.
ENFORCEMENT_LEVEL = EnforcementLevel.MANDATORY

if __name__ == "__main__":
    PolicyPack(name=NAME, policies=policies(), enforcement_level=ENFORCEMENT_LEVEL)
