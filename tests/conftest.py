"""Shared test set-up: a fake AWS identity, no real endpoints, quiet observability."""

from __future__ import annotations

import os

# Set before anything imports boto3/botocore: tests never reach a real AWS account.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "POWERTOOLS_METRICS_NAMESPACE": "OutsourcingTests",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
)
for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "DYNAMODB_ENDPOINT_URL", "OPERATOR_KEY"):
    os.environ.pop(name, None)

from tests import moto_speed  # noqa: E402

moto_speed.install()
