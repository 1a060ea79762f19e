"""The regions this template deploys to, for the stack config and the policy pack alike."""

from typing import Final

US_REGIONS: Final = frozenset({"us-east-1", "us-east-2", "us-west-1", "us-west-2"})
