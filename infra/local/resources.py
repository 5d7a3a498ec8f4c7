"""Create the table, bucket, sender identity and user pool from ``infra/aws/resources.json``.

The local stack and the test suites provision from the same CloudFormation definitions the
deployment uses, so a key, index, stream or TTL setting cannot differ between them.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATE = Path(__file__).resolve().parents[1] / "aws" / "resources.json"


@lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(TEMPLATE.read_text())
    return result


def _properties(logical_id: str) -> dict[str, Any]:
    props: dict[str, Any] = template()["Resources"][logical_id]["Properties"]
    return props


def table_definition(table_name: str) -> dict[str, Any]:
    """``CreateTable`` arguments for the main table, from its CloudFormation properties."""
    props = _properties("MainTable")
    return {
        "TableName": table_name,
        "BillingMode": props["BillingMode"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "GlobalSecondaryIndexes": props["GlobalSecondaryIndexes"],
        "StreamSpecification": {"StreamEnabled": True, **props["StreamSpecification"]},
    }


def ttl_attribute() -> str:
    name: str = _properties("MainTable")["TimeToLiveSpecification"]["AttributeName"]
    return name


@dataclass(frozen=True, slots=True)
class Provisioned:
    table_name: str
    stream_arn: str
    bucket_name: str
    user_pool_id: str | None
    user_pool_client_id: str | None
    dead_letter_queue_url: str | None = None


def create_table(dynamodb: Any, table_name: str) -> str:
    """Create the main table if missing (idempotent); returns its stream ARN."""
    with contextlib.suppress(dynamodb.exceptions.ResourceInUseException):
        dynamodb.create_table(**table_definition(table_name))
    dynamodb.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    try:
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl_attribute(), "Enabled": True},
        )
    except dynamodb.exceptions.ClientError as exc:
        # Already enabled on a reused table.
        if "already enabled" not in str(exc).lower():
            raise
    arn: str = dynamodb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    return arn


def create_bucket(s3: Any, bucket_name: str) -> None:
    """Create the attachments bucket with the template's CORS rules (idempotent)."""
    already = (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists)
    with contextlib.suppress(*already):
        s3.create_bucket(Bucket=bucket_name)
    rules = _properties("AttachmentsBucket")["CorsConfiguration"]["CorsRules"]
    # CloudFormation spells two names differently from the S3 API.
    s3.put_bucket_cors(
        Bucket=bucket_name,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedMethods": rule["AllowedMethods"],
                    "AllowedOrigins": rule["AllowedOrigins"],
                    "AllowedHeaders": rule.get("AllowedHeaders", []),
                    "MaxAgeSeconds": rule.get("MaxAge", 0),
                }
                for rule in rules
            ]
        },
    )


def create_user_pool(cognito: Any, name: str) -> tuple[str, str]:
    """Create (or find) the portal user pool and its app client; returns their ids."""
    for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
        if pool["Name"] == name:
            pool_id: str = pool["Id"]
            clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
            if clients["UserPoolClients"]:
                return pool_id, clients["UserPoolClients"][0]["ClientId"]
            break
    else:
        props = _properties("PortalUserPool")
        pool_id = cognito.create_user_pool(
            PoolName=name,
            Policies=props["Policies"],
            UsernameAttributes=props["UsernameAttributes"],
            AdminCreateUserConfig=props["AdminCreateUserConfig"],
        )["UserPool"]["Id"]
    client_props = _properties("PortalUserPoolClient")
    client_id: str = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=f"{name}-portal",
        GenerateSecret=client_props["GenerateSecret"],
        ExplicitAuthFlows=client_props["ExplicitAuthFlows"],
    )["UserPoolClient"]["ClientId"]
    return pool_id, client_id


def create_dead_letter_queue(sqs: Any, name: str) -> str:
    """The stream's dead-letter queue (idempotent); returns its URL."""
    props = _properties("StreamDeadLetterQueue")
    url: str = sqs.create_queue(
        QueueName=name,
        Attributes={"MessageRetentionPeriod": str(props["MessageRetentionPeriod"])},
    )["QueueUrl"]
    return url


@dataclass(frozen=True)
class Clients:
    """boto3 clients of the services to provision on (Cognito and SQS are optional)."""

    dynamodb: Any
    s3: Any
    ses: Any
    cognito: Any | None = None
    sqs: Any | None = None


def provision(
    clients: Clients, *, table_name: str, bucket_name: str, mail_from: str
) -> Provisioned:
    """Everything the service needs, created if missing."""
    stream_arn = create_table(clients.dynamodb, table_name)
    create_bucket(clients.s3, bucket_name)
    clients.ses.verify_email_identity(EmailAddress=mail_from)
    pool_id = client_id = None
    if clients.cognito is not None:
        pool_id, client_id = create_user_pool(clients.cognito, f"{table_name}-portal")
    sqs = clients.sqs
    queue_url = create_dead_letter_queue(sqs, f"{table_name}-stream-dlq") if sqs else None
    return Provisioned(
        table_name=table_name,
        stream_arn=stream_arn,
        bucket_name=bucket_name,
        user_pool_id=pool_id,
        user_pool_client_id=client_id,
        dead_letter_queue_url=queue_url,
    )
