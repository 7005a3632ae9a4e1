"""cdk-nag (v3) wiring: the AwsSolutions pack on an app, and justified acknowledgments.

cdk-nag v3 reports through CDK's native validation: a finding fails ``app.synth()`` unless the
construct acknowledged it with ``Validations.of(construct).acknowledge(...)``. Every
acknowledgment here carries its reason next to the resource it concerns.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks
from constructs import Construct


def acknowledge(construct: Construct, rule: str, reason: str) -> None:
    """Acknowledge one finding (``AwsSolutions-IAM5[Resource::*]`` style ids) on ``construct``."""
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=reason))


def add_aws_solutions_checks(app: cdk.App) -> None:
    """Run cdk-nag's AwsSolutions pack when ``app`` synthesizes."""
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
