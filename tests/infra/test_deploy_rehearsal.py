"""Deploy rehearsal: the packaged template, translated from SAM, created on moto's CloudFormation.

Beyond cfn-lint: the session's package (``tests/infra/packaging.py``, as ``make package``) has its
code uploaded to an artifacts bucket and its ``CodeUri`` rewritten, as ``aws cloudformation
package`` does; ``aws-sam-translator`` turns it into plain CloudFormation (no managed policies are
used, so the policy loader answers ``{}`` and needs no network); ``create_stack`` on moto builds
the stack with the parameters a deployment passes. The app then runs with exactly the
environment the stack gave its Lambda functions, against the table, indexes, stream, bucket and
queue the stack created, and with the operator key read from SSM as in AWS.

What moto's CloudFormation cannot create is taken out of the translated template before
``create_stack``: exactly the types in :data:`NOT_ON_MOTO` (each with its reason, also in the
README's "Deploy to AWS"), plus the resources and outputs that only reference them. The tests
fail when the template gains a type moto skips (moto only warns and leaves it out) or when a
removed type is no longer in the template. The user pool is one of them: it is created out of
the stack from the translated template's own properties, and the references to it are replaced
by its ids, so the smoke test still creates a portal user in a pool made from the template.
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws
from moto.cloudformation.parsing import get_model_map
from samtranslator.translator.transform import transform

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.sqs import SqsDeadLetterQueue, batch_info_message
from chalicelib.container import reset_container
from infra.local.lambda_context import lambda_context
from infra.local.pump import MemoryCheckpoints, StreamPump
from tests.infra.packaging import Package

# The harness signs operator calls with this key: the stack's SSM parameter holds it.
from tests.integration.conftest import OPERATOR_KEY, Harness
from tests.integration.sync_support import Side, add, linked, replicas

STACK = "outsourcing-rehearsal"
ARTIFACTS_BUCKET = "outsourcing-deploy-artifacts"
PORTAL_URL = "https://portal.outsourcing.example.com/api/portal"
MAIL_FROM = "no-reply@outsourcing.example.com"
# Exactly what a deployment passes (README "Deploy to AWS"); the rest keep their defaults.
PARAMETERS = {"PortalUrl": PORTAL_URL, "MailFrom": MAIL_FROM}

# Resource types of the translated template that moto's CloudFormation cannot create, and why.
NOT_ON_MOTO = {
    "AWS::ApiGateway::RestApi": "moto requires a Name; the API is named by its definition's title",
    "AWS::ApiGateway::Deployment": "a deployment of the REST API moto cannot create",
    "AWS::ApiGateway::Stage": "no moto CloudFormation support",
    "AWS::ApiGateway::GatewayResponse": "no moto CloudFormation support",
    "AWS::Cognito::UserPool": "no moto CloudFormation support (created from its properties)",
    "AWS::Cognito::UserPoolClient": "no moto CloudFormation support (created from its properties)",
    "AWS::CloudWatch::Alarm": "no moto CloudFormation support",
    "AWS::SNS::Subscription": "no moto CloudFormation support",
    "AWS::Lambda::EventSourceMapping": (
        "moto would run the stream function in Docker on every table write and drop the shard's "
        "records after that attempt; the test plays Lambda's part with the stream pump"
    ),
}
# Types moto has a CloudFormation model for, but that it cannot use as the template has them.
SUPPORTED_BUT_REMOVED = {
    "AWS::ApiGateway::RestApi",
    "AWS::ApiGateway::Deployment",
    "AWS::Lambda::EventSourceMapping",
}
# Removed because they only reference a removed resource: the API's permission to invoke the
# handler (its SourceArn names the REST API), and the outputs naming the API.
REMOVED_DEPENDENTS = {"APIHandlerInvokePermission"}
REMOVED_OUTPUTS = {"RestAPIId", "EndpointURL"}
POOL, POOL_CLIENT = "PortalUserPool", "PortalUserPoolClient"

# One stack per module: its tests stay on one xdist worker (make test runs --dist loadgroup).
pytestmark = pytest.mark.xdist_group("deploy-rehearsal")


class _NoManagedPolicies:
    """The translator's managed-policy loader: the template names no managed policy."""

    def load(self) -> dict[str, str]:
        return {}


def _code_key(package: Package) -> str:
    # `aws cloudformation package` names the uploaded artifact by its MD5.
    digest = hashlib.md5((package.directory / "deployment.zip").read_bytes(), usedforsecurity=False)
    return digest.hexdigest()


def translated(package: Package) -> dict[str, Any]:
    """The package as `aws cloudformation package` leaves it, translated to CloudFormation."""
    sam = copy.deepcopy(package.template)
    for resource in sam["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"]["CodeUri"] == "./deployment.zip"
            resource["Properties"]["CodeUri"] = f"s3://{ARTIFACTS_BUCKET}/{_code_key(package)}"
    result: dict[str, Any] = transform(sam, {}, _NoManagedPolicies())
    return result


def _types(template: dict[str, Any]) -> set[str]:
    return {resource["Type"] for resource in template["Resources"].values()}


def _replace(node: Any, replacements: dict[str, Any]) -> Any:
    """``node`` with every sub-tree equal to a key of ``replacements`` (as JSON) replaced."""
    if isinstance(node, dict):
        found = replacements.get(json.dumps(node, sort_keys=True))
        if found is not None:
            return found
        return {key: _replace(value, replacements) for key, value in node.items()}
    if isinstance(node, list):
        return [_replace(value, replacements) for value in node]
    return node


def _references(node: Any, logical_id: str) -> bool:
    text = json.dumps(node)
    return any(
        needle in text
        for needle in (
            f'{{"Ref": "{logical_id}"}}',
            f'"Fn::GetAtt": ["{logical_id}"',
            f"${{{logical_id}}}",
            f"${{{logical_id}.",
        )
    )


@dataclass
class Removal:
    template: dict[str, Any]
    resources: set[str]
    dependents: set[str]
    outputs: set[str]


def without_unsupported(template: dict[str, Any], replacements: dict[str, Any]) -> Removal:
    """The template with :data:`NOT_ON_MOTO` types, and what only references them, taken out."""
    template = _replace(template, replacements)
    resources = template["Resources"]
    removed = {key for key, resource in resources.items() if resource["Type"] in NOT_ON_MOTO}
    dependents: set[str] = set()
    while True:
        more = {
            key
            for key, resource in resources.items()
            if key not in removed | dependents
            and any(_references(resource, gone) for gone in removed | dependents)
        }
        if not more:
            break
        dependents |= more
    gone = removed | dependents
    outputs = {
        key
        for key, output in template.get("Outputs", {}).items()
        if any(_references(output, logical_id) for logical_id in gone)
    }
    template["Resources"] = {key: value for key, value in resources.items() if key not in gone}
    template["Outputs"] = {
        key: value for key, value in template.get("Outputs", {}).items() if key not in outputs
    }
    return Removal(template, removed, dependents, outputs)


def _pool_from_template(template: dict[str, Any]) -> dict[str, Any]:
    """The user pool and its client, created with the translated template's own properties."""
    cognito = boto3.client("cognito-idp")
    pool_props = dict(template["Resources"][POOL]["Properties"])
    pool = cognito.create_user_pool(PoolName=f"{STACK}-{POOL}", **pool_props)["UserPool"]
    client_props = dict(template["Resources"][POOL_CLIENT]["Properties"])
    assert client_props.pop("UserPoolId") == {"Ref": POOL}
    client = cognito.create_user_pool_client(
        UserPoolId=pool["Id"], ClientName=f"{STACK}-{POOL_CLIENT}", **client_props
    )["UserPoolClient"]
    return {
        json.dumps({"Ref": POOL}): pool["Id"],
        json.dumps({"Fn::GetAtt": [POOL, "Arn"]}, sort_keys=True): pool["Arn"],
        json.dumps({"Ref": POOL_CLIENT}): client["ClientId"],
    }


@dataclass
class Stack:
    status: str
    removal: Removal
    physical: dict[str, str]  # logical id -> physical id
    statuses: dict[str, str]
    outputs: dict[str, str]
    functions: dict[str, dict[str, Any]]  # logical id -> Lambda's function configuration
    user_pool_id: str
    user_pool_client_id: str

    def environment(self) -> dict[str, str]:
        """Every variable the stack's functions got (one value per name across functions)."""
        merged: dict[str, str] = {}
        for logical_id, config in self.functions.items():
            for name, value in config["Environment"]["Variables"].items():
                assert merged.setdefault(name, value) == value, (logical_id, name)
        return merged


@pytest.fixture(scope="module")
def stack(package: Package) -> Iterator[Stack]:
    template = translated(package)
    with mock_aws(), pytest.MonkeyPatch.context() as env:
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
        s3.upload_file(
            str(package.directory / "deployment.zip"), ARTIFACTS_BUCKET, _code_key(package)
        )
        # Created out of band before the first deployment (README "Deploy to AWS").
        key_name = template["Parameters"]["OperatorKeyParameterName"]["Default"]
        boto3.client("ssm").put_parameter(Name=key_name, Value=OPERATOR_KEY, Type="SecureString")
        boto3.client("ses").verify_email_identity(EmailAddress=MAIL_FROM)

        replacements = _pool_from_template(template)
        removal = without_unsupported(template, replacements)
        cloudformation = boto3.client("cloudformation")
        cloudformation.create_stack(
            StackName=STACK,
            TemplateBody=json.dumps(removal.template),
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
            Capabilities=["CAPABILITY_IAM"],
        )
        described = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
        summaries = cloudformation.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        physical = {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}
        lambda_client = boto3.client("lambda")
        functions = {
            s["LogicalResourceId"]: lambda_client.get_function_configuration(
                FunctionName=s["PhysicalResourceId"]
            )
            for s in summaries
            if s["ResourceType"] == "AWS::Lambda::Function"
        }
        built = Stack(
            status=described["StackStatus"],
            removal=removal,
            physical=physical,
            statuses={s["LogicalResourceId"]: s["ResourceStatus"] for s in summaries},
            outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
            functions=functions,
            user_pool_id=replacements[json.dumps({"Ref": POOL})],
            user_pool_client_id=replacements[json.dumps({"Ref": POOL_CLIENT})],
        )
        # The app runs with exactly what the stack gave its functions (and the fake identity).
        for name, value in built.environment().items():
            env.setenv(name, value)
        reset_container()
        yield built
        reset_container()


# --- the translation and what moto leaves out -------------------------------------------------


def test_removed_types_are_exactly_those_moto_cannot_create(package: Package) -> None:
    template = translated(package)
    moto_models = set(get_model_map())
    skipped_by_moto = {t for t in _types(template) if t not in moto_models}
    # A new resource type moto has no model for would be left out silently: it must be listed
    # here and in the README.
    assert skipped_by_moto == set(NOT_ON_MOTO) - SUPPORTED_BUT_REMOVED
    assert moto_models >= SUPPORTED_BUT_REMOVED
    # Every removed type is really in the template (the list does not outlive its reason).
    assert set(NOT_ON_MOTO) <= _types(template)


def test_removal_takes_out_only_the_listed_types_and_their_dependents(stack: Stack) -> None:
    removal = stack.removal
    assert removal.dependents == REMOVED_DEPENDENTS
    assert removal.outputs == REMOVED_OUTPUTS
    assert not _types(removal.template) & set(NOT_ON_MOTO)
    assert {"AWS::Lambda::Function", "AWS::DynamoDB::Table", "AWS::SQS::Queue"} <= _types(
        removal.template
    )


def test_the_stream_mapping_left_out_is_the_one_the_pump_replaces(package: Package) -> None:
    mappings = {
        key: resource["Properties"]
        for key, resource in translated(package)["Resources"].items()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
    }
    assert list(mappings.values()) == [
        {
            "EventSourceArn": {"Fn::GetAtt": ["MainTable", "StreamArn"]},
            "FunctionName": {"Ref": "TableStream"},
            "StartingPosition": "TRIM_HORIZON",
            "BatchSize": 100,
            "MaximumBatchingWindowInSeconds": 0,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "MaximumRetryAttempts": 10,
            "BisectBatchOnFunctionError": True,
            "MaximumRecordAgeInSeconds": 86400,
            "DestinationConfig": {
                "OnFailure": {"Destination": {"Fn::GetAtt": ["StreamDeadLetterQueue", "Arn"]}}
            },
        }
    ]


# --- the stack --------------------------------------------------------------------------------


def test_stack_is_created_with_every_remaining_resource(stack: Stack) -> None:
    assert stack.status == "CREATE_COMPLETE"
    assert set(stack.statuses) == set(stack.removal.template["Resources"])
    assert set(stack.statuses.values()) == {"CREATE_COMPLETE"}
    assert set(stack.functions) == {
        key
        for key, resource in stack.removal.template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Function"
    }
    assert len(stack.functions) >= 5


def test_outputs_name_the_stacks_resources(stack: Stack) -> None:
    assert stack.outputs["TableName"] == stack.physical["MainTable"]
    assert stack.outputs["BucketName"] == stack.physical["AttachmentsBucket"]
    assert stack.outputs["StreamDeadLetterQueueUrl"] == stack.physical["StreamDeadLetterQueue"]
    assert stack.outputs["UserPoolId"] == stack.user_pool_id


def test_table_has_its_indexes_stream_and_ttl(stack: Stack, package: Package) -> None:
    dynamodb = boto3.client("dynamodb")
    table = dynamodb.describe_table(TableName=stack.physical["MainTable"])["Table"]
    wanted = package.properties("MainTable")
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == sorted(
        i["IndexName"] for i in wanted["GlobalSecondaryIndexes"]
    )
    assert table["StreamSpecification"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert table["LatestStreamArn"]


def test_functions_get_the_stacks_resources(stack: Stack) -> None:
    environment = stack.environment()
    assert environment["TABLE_NAME"] == stack.physical["MainTable"]
    assert environment["BUCKET_NAME"] == stack.physical["AttachmentsBucket"]
    assert environment["USER_POOL_ID"] == stack.user_pool_id
    assert environment["USER_POOL_CLIENT_ID"] == stack.user_pool_client_id
    assert environment["DEAD_LETTER_QUEUE_URL"] == stack.physical["StreamDeadLetterQueue"]
    assert environment["MAIL_FROM"] == MAIL_FROM
    assert environment["PORTAL_URL"] == PORTAL_URL
    assert environment["OPERATOR_KEY_PARAMETER"] == "/outsourcing/prod/operator-key"
    assert "OPERATOR_KEY" not in environment  # only its parameter's name travels
    for config in stack.functions.values():
        module, _, name = config["Handler"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), config["Handler"]


# --- smoke: the app on the stack's resources --------------------------------------------------


def _handler(stack: Stack, logical_id: str) -> Any:
    module, _, name = stack.functions[logical_id]["Handler"].rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.fixture(scope="module")
def harness(stack: Stack) -> Iterator[Harness]:
    app = importlib.import_module("app").app
    table = boto3.client("dynamodb").describe_table(TableName=stack.physical["MainTable"])
    pump = StreamPump(
        boto3.client("dynamodbstreams"),
        table["Table"]["LatestStreamArn"],
        _handler(stack, "TableStream"),
        max_attempts=3,
        checkpoints=_CHECKPOINTS,
    )
    # The packaged stage: chalice.test.Client sets its config's variables (dev's otherwise),
    # the same values the stack gave the functions.
    with Client(app, stage_name="prod") as client:
        yield Harness(
            backend="moto",
            client=client,
            table_name=stack.physical["MainTable"],
            bucket_name=stack.physical["AttachmentsBucket"],
            stream_arn=pump.stream_arn,
            dynamodb_endpoint=None,
            pump=pump,
        )


_CHECKPOINTS = MemoryCheckpoints()


def test_tenant_ticket_and_note_land_in_the_stacks_table(stack: Stack, harness: Harness) -> None:
    # The operator key is read from the SSM parameter the function is told about.
    tenant = harness.create_tenant("Rehearsal IT")
    ticket = harness.create_ticket(tenant)
    note = harness.post(f"/v1/tickets/{ticket['ticket_id']}/notes", tenant.key, {"text": "hi"})
    assert note.status_code == 201, note.body
    stored = boto3.client("dynamodb").get_item(
        TableName=stack.physical["MainTable"],
        Key={
            "pk": {"S": keys.ticket_pk(tenant.tenant_id, ticket["ticket_id"])},
            "sk": {"S": keys.TICKET_SK},
        },
        ConsistentRead=True,
    )
    assert stored["Item"]["title"] == {"S": "Printer offline"}


def test_stream_reaches_the_partner_and_a_dead_letter_is_redriven(
    stack: Stack, harness: Harness
) -> None:
    pair = linked(harness)
    assert harness.pump.stats.failures == 0
    assert harness.pump.stats.records > 0
    # A receiver's note whose batch Lambda gave up on (every attempt failed): the on-failure
    # destination, the stack's queue, gets the range.
    note = add(harness, pair.receiver, "note", text="Switch replaced")
    queue = SqsDeadLetterQueue(boto3.client("sqs"), stack.physical["StreamDeadLetterQueue"])
    failing = StreamPump(
        boto3.client("dynamodbstreams"),
        harness.stream_arn,
        lambda event, _: {
            "batchItemFailures": [
                {"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in event["Records"]
            ]
        },
        max_attempts=1,
        checkpoints=_CHECKPOINTS,
        dead_letters=lambda entry: queue.send(batch_info_message(entry, "RetryAttemptsExhausted")),
    )
    failing.drain()
    assert failing.stats.dead_lettered >= 1
    texts = [r.get("text") for r in replicas(harness, pair.lead).values()]
    assert note["text"] not in texts
    # The operator's redrive (aws lambda invoke on the stack's RetryDeadLetters function).
    report = _handler(stack, "RetryDeadLetters")({}, lambda_context("retry_dead_letters"))
    assert (report["received"], report["succeeded"]) == (1, 1), report
    assert report["still_failing"] == report["trimmed"] == report["incomplete"] == 0
    texts = [r.get("text") for r in replicas(harness, pair.lead).values()]
    assert note["text"] in texts


def test_upload_is_presigned_for_the_stacks_bucket(stack: Stack, harness: Harness) -> None:
    tenant = harness.create_tenant("Files IT")
    side = Side("lead", tenant, harness.create_ticket(tenant)["ticket_id"])
    reply = harness.post(
        f"{side.base}/attachments",
        tenant.key,
        {"file_name": "a.txt", "content_type": "text/plain", "size": 3, "internal": False},
    )
    assert reply.status_code == 201, reply.body
    form = reply.json["upload"]
    bucket = stack.physical["AttachmentsBucket"]
    assert bucket in form["url"] or form["fields"].get("bucket") == bucket, form


def test_subcontractor_admin_is_a_user_of_the_stacks_pool(stack: Stack, harness: Harness) -> None:
    lead = harness.create_tenant("Portal Lead IT")
    harness.enable_outsourcing(lead)
    email = "admin@rehearsal-techs.example"
    reply = harness.post(
        "/v1/subcontractors", lead.key, {"company_name": "Rehearsal Techs", "admin_email": email}
    )
    assert reply.status_code == 201, reply.body
    assert reply.json["activation_url"].startswith(PORTAL_URL + "/")
    users = boto3.client("cognito-idp").list_users(UserPoolId=stack.user_pool_id)["Users"]
    emails = {a["Value"] for u in users for a in u["Attributes"] if a["Name"] == "email"}
    assert email in emails
