"""Constants of the cloud side that only the CDK app needs (shared names live in ``bundle.yaml``).

The AWS-provided Greengrass components are deployed at exact versions: a deployment names exact
versions, and pinning them makes a redeploy reproducible. Raise them deliberately, after reading
each component's changelog in the Greengrass developer guide.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RECIPES_DIR = REPO_ROOT / "recipes"
CERTIFICATE_HANDLER_DIR = Path(__file__).resolve().parent / "fleet" / "runtime"

NUCLEUS = "aws.greengrass.Nucleus"
TOKEN_EXCHANGE_SERVICE = "aws.greengrass.TokenExchangeService"
SHADOW_MANAGER = "aws.greengrass.ShadowManager"
PUBLIC_COMPONENT_VERSIONS: dict[str, str] = {
    NUCLEUS: "2.14.0",
    TOKEN_EXCHANGE_SERVICE: "2.0.3",
    SHADOW_MANAGER: "2.3.9",
}

# The placeholder form of a recipe artifact URI (GDK's), replaced with the CDK asset's S3 URL.
ARTIFACT_PLACEHOLDER_PREFIX = "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/"
SOURCE_ARTIFACT = "edgebundle.zip"

# Where each thing's private key is kept in Secrets Manager: <prefix>/<thing>/private-key.
SECRET_NAME_PREFIX = "edge-bundle/things"

# CloudFormation output keys read back by ``python -m infra.device_config``.
OUTPUT_ROLE_ALIAS = "RoleAlias"
OUTPUT_THING_GROUP = "ThingGroup"
OUTPUT_DATA_BUCKET = "DataBucket"


def certificate_output_key(thing: str) -> str:
    """The output holding a thing's certificate id (CloudFormation keys are alphanumeric)."""
    return "Certificate" + "".join(ch for ch in thing.title() if ch.isalnum())


def secret_output_key(thing: str) -> str:
    """The output holding the ARN of the secret with a thing's private key (the ARN, never the key)."""
    return "PrivateKeySecret" + "".join(ch for ch in thing.title() if ch.isalnum())
