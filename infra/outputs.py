"""Stack outputs that more than the program knows by name: the policy pack, the docs, the scripts."""

from typing import Final

# The plaintext of the client key a stack starts with, exported as a Pulumi secret (encrypted in the
# state; `pulumi stack output first_client_api_key --show-secrets`). The client-keys secret holds its hash.
FIRST_CLIENT_API_KEY: Final = "first_client_api_key"

# Outputs that are Pulumi secrets on purpose. The policy pack's no-secret-outputs rule cannot tell a secret
# output from a plaintext one (the analyzer strips the marker), so it takes these names from here and a
# program test checks that each really is secret.
SECRET_OUTPUTS: Final = frozenset({FIRST_CLIENT_API_KEY})

# Outputs the operator scripts read (scripts/bootstrap.py, scripts/client_keys.py).
SERVICE_URL: Final = "service_url"
ECR_REPOSITORY_URL: Final = "ecr_repository_url"
DEPLOY_ROLE_ARN: Final = "deploy_role_arn"
CLUSTER_NAME: Final = "cluster_name"
SERVICE_NAME: Final = "service_name"
# The Secrets Manager secret holding the client-key map ({"<sha256 hex>": "<client id>"}); its ARN, not a secret.
CLIENT_API_KEYS_SECRET_ARN: Final = "client_api_keys_secret_arn"  # noqa: S105 - an output name
