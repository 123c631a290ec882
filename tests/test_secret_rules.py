"""Secret shapes the redactor must catch and secret files the inventory must never send (issue 13, item 5).

The recall over a larger corpus is measured by bench/secret_recall.py; these are the shapes the red team
found missed, each through the real Redactor and is_secret_path."""

from __future__ import annotations

import pytest

from diffcrew.tools.inventory import is_secret_path
from diffcrew.tools.redact import Redactor

PGP = ("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBF0K2ZkBCADQx8v3Ww7v0Hq1pLz1XyYbX9vQ2R1aS3dF4gH5jK6lM7nO8pQ9\n"
       "=ab12\n-----END PGP PRIVATE KEY BLOCK-----")
SHAPES = [  # (text as it stands in a file, the secret in it)
    ('DB_PASSWORD = "Tr0ub4dor-and-3"', "Tr0ub4dor-and-3"),
    ('AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"', "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY"),
    ('{"password": "s3cr3t-Passw0rd!"}', "s3cr3t-Passw0rd!"),
    ("database:\n  db_password: Sup3rS3cretValue\n", "Sup3rS3cretValue"),
    ("url = postgres://app:Pg-pass-2024@db.internal:5432/app", "Pg-pass-2024"),
    ('stripe.api_key = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"', "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("token: glpat-xZ3vP9rT2qLm8NwK4yBd", "glpat-xZ3vP9rT2qLm8NwK4yBd"),
    ("//registry.npmjs.org/:_authToken=npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8",
     "npm_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    ("HF = 'hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh'", "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh"),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
     "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    (PGP, "lQOYBF0K2ZkBCADQx8v3Ww7v0Hq1pLz1XyYbX9vQ2R1aS3dF4gH5jK6lM7nO8pQ9"),
    ("export GITHUB_TOKEN=ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("SECRET_KEY=9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
]


@pytest.mark.parametrize("text,secret", SHAPES, ids=[s[1][:12] for s in SHAPES])
def test_common_secret_shapes_are_redacted(text: str, secret: str) -> None:
    redacted = Redactor(extra=()).redact(text)
    assert secret not in redacted and "[REDACTED-SECRET-" in redacted


@pytest.mark.parametrize("code", [
    "password = get_password(user)", "token = self.token", 'api_key = os.environ["API_KEY"]',
    'TOKEN_NAME = "access_token"', "secret_key: ${SECRET_KEY}", 'password = "<your password>"',
    "def check_password(password: str) -> bool:", 'KEY_VARIABLES = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")',
])
def test_ordinary_code_about_secrets_is_left_alone(code: str) -> None:
    assert Redactor(extra=()).redact(code) == code


@pytest.mark.parametrize("path", ["deploy/prod.env", "terraform.tfstate", "infra/terraform.tfstate.backup",
                                  "kubeconfig", "ops/kubeconfig.yaml", "k8s/secret.yaml", "k8s/db-secret.yml",
                                  "keys/AuthKey_ABC123.p8", ".dockercfg", "krb5.keytab", "svc/http.keytab"])
def test_secret_files_are_never_sent(path: str) -> None:
    assert is_secret_path(path)


@pytest.mark.parametrize("path", ["src/secretary.py", "docs/secrets.md", "envoy.yaml", "k8s/deployment.yaml",
                                  "app/environment.py", "terraform/main.tf"])
def test_ordinary_files_are_still_sent(path: str) -> None:
    assert not is_secret_path(path)
