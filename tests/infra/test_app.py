"""The whole app as `make synth` writes it: cdk-nag, cfn-lint, outputs and every policy statement."""

from __future__ import annotations

from typing import Any

from cfnlint.api import ManualArgs, lint_file

from infra.constants import certificate_output_key, secret_output_key
from infra.fleet.policies import GREENGRASS_DATA_PLANE_ACTIONS
from tests.infra.statements import as_list, iam_statements, iot_statements, render, resources_of

ALLOWED_IAM_STAR_ACTIONS = {"iot:CreateKeysAndCertificate"}  # has no resource type in IAM


def test_cdk_nag_aws_solutions_has_no_unacknowledged_finding(full_app: Any) -> None:
    # app.synth() in the fixture already raised on an unacknowledged error; warnings count too.
    reports = full_app.validation_report.get("pluginReports", [])
    violations = [v["ruleName"] for report in reports for v in report.get("violations", [])]
    assert violations == []


def test_cfn_lint_finds_no_error_in_any_template(full_app: Any) -> None:
    assert full_app.template_paths
    for path in full_app.template_paths:
        matches = lint_file(path, config=ManualArgs(regions=["us-east-1"]))
        errors = [f"{m.rule.id} {m.message} ({m.path_string})" for m in matches if m.rule.id.startswith("E")]
        assert errors == [], path.name


def test_outputs_name_identifiers_never_key_material(full_app: Any, spec: Any) -> None:
    outputs = full_app.template["Outputs"]
    for thing in spec.fleet.things:
        assert outputs[certificate_output_key(thing)]["Value"]["Fn::GetAtt"][1] == "CertificateId"
        assert set(outputs[secret_output_key(thing)]["Value"]) == {"Ref"}  # the secret's ARN
    text = repr(outputs)
    for marker in (
        "PRIVATE KEY",
        "SecretString",
        "resolve:secretsmanager",
        "KeyPair",
        'PrivateKey"',
        "certificatePem",
    ):
        assert marker not in text
    # No custom resource attribute other than the certificate id/ARN is ever read.
    for output in outputs.values():
        value = output["Value"]
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            assert value["Fn::GetAtt"][1] in {"CertificateId", "CertificateArn", "Arn"}


def test_no_iam_statement_grants_wildcard_actions_or_star_resources_beyond_what_aws_requires(
    full_app: Any,
) -> None:
    for logical_id, statement in iam_statements(full_app.template):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), f"{logical_id}: {actions}"
        resources = [render(r) for r in as_list(statement["Resource"])]
        if "*" in resources:
            assert set(actions) <= ALLOWED_IAM_STAR_ACTIONS, f"{logical_id}: {actions} on *"


def test_no_iot_statement_is_broader_than_the_documented_greengrass_minimum(full_app: Any) -> None:
    for logical_id, statement in iot_statements(full_app.template):
        actions = as_list(statement["Action"])
        assert all("*" not in action for action in actions), f"{logical_id}: {actions}"
        if "*" in as_list(statement["Resource"]):
            assert set(actions) == set(GREENGRASS_DATA_PLANE_ACTIONS)


def test_the_app_deploys_every_recipe_in_recipes(full_app: Any, repo_root: Any) -> None:
    recipes = sorted(p for p in (repo_root / "recipes").iterdir() if p.suffix in {".yaml", ".yml", ".json"})
    versions = resources_of(full_app.template, "AWS::GreengrassV2::ComponentVersion")
    assert len(versions) == len(recipes)
    (deployment,) = resources_of(full_app.template, "AWS::GreengrassV2::Deployment").values()
    names = set(deployment["Properties"]["Components"])
    for path in recipes:
        assert path.stem in names


def test_cdk_nag_is_live_an_unjustified_finding_fails_synthesis(tmp_path: Any) -> None:
    # GIVEN the same nag wiring as the app WHEN a bucket without TLS enforcement or logging synthesizes
    import aws_cdk as cdk
    import pytest
    from aws_cdk import aws_s3 as s3

    from infra.nag import add_aws_solutions_checks

    app = cdk.App(outdir=str(tmp_path))
    s3.Bucket(cdk.Stack(app, "Bad"), "Open")
    add_aws_solutions_checks(app)
    # THEN synthesis fails and the report names the AwsSolutions S3 rules
    with pytest.raises(RuntimeError, match=r"(?s)ValidationFailed.*AwsSolutions-S10"):
        app.synth()
    assert "AwsSolutions-S10" in (tmp_path / "validation-report.json").read_text()
