"""The deployment template: ``chalice package`` merged with ``infra/aws/resources.json``.

One packaging run per session (``tests/infra/packaging.py``; it installs the Lambda dependencies
and takes a while the first time); every test reads the same ``sam.json``. The template must pass
cfn-lint as it stands, carry the stream settings Chalice cannot express, keep the tables safe,
hand each function its configuration, and give each function only the permissions it needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import cfnlint
import pytest
from pydantic import AliasChoices

from chalicelib.config import Settings
from tests.infra.packaging import BIN, ROOT, Package

# Logical ids Chalice gives the two functions (the stream handler is registered as "table_stream").
API_FUNCTION = "APIHandler"
STREAM_FUNCTION = "TableStream"
STREAM_EVENT = "TableStreamDynamodbEventSource"
JOB_FUNCTION = "ExpireOutsourcings"
RETRY_FUNCTION = "RetryDeadLetters"
NOTIFY_FUNCTION = "RetryNotifications"
FUNCTIONS = (API_FUNCTION, STREAM_FUNCTION, JOB_FUNCTION, RETRY_FUNCTION, NOTIFY_FUNCTION)

TABLE_ARN = {"Fn::GetAtt": ["MainTable", "Arn"]}
INDEX_ARNS = {"Fn::Sub": "${MainTable.Arn}/index/*"}
STREAM_ARN = {"Fn::GetAtt": ["MainTable", "StreamArn"]}
OBJECT_ARNS = {"Fn::Sub": "${AttachmentsBucket.Arn}/*"}
POOL_ARN = {"Fn::GetAtt": ["PortalUserPool", "Arn"]}
QUEUE_ARN = {"Fn::GetAtt": ["StreamDeadLetterQueue", "Arn"]}
OPERATOR_KEY_ARN = {
    "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}"
    ":parameter${OperatorKeyParameterName}"
}

EXPECTED_ENVIRONMENT = {
    "TABLE_NAME": {"Ref": "MainTable"},
    "BUCKET_NAME": {"Ref": "AttachmentsBucket"},
    "USER_POOL_ID": {"Ref": "PortalUserPool"},
    "MAIL_FROM": {"Ref": "MailFrom"},
    "OPERATOR_KEY_PARAMETER": {"Ref": "OperatorKeyParameterName"},
    "POWERTOOLS_SERVICE_NAME": "outsourcing",
}

# The only action granted on every resource: ListStreams has no resource-level permissions.
RESOURCE_WILDCARD_ALLOWED = {"dynamodb:ListStreams"}
# IAM actions that are no API operation of their own (checked inside TransactWriteItems).
IAM_ONLY_ACTIONS = {"dynamodb:ConditionCheckItem"}
# IAM action prefix -> botocore service models whose operations it covers.
IAM_PREFIX_SERVICES = {
    "cognito-idp": ("cognito-idp",),
    "dynamodb": ("dynamodb", "dynamodbstreams"),
    "logs": ("logs",),
    "s3": ("s3",),
    "ses": ("ses",),
    "sqs": ("sqs",),
    "ssm": ("ssm",),
}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [dict(statement) for statement in _as_list(document["Statement"])]


def _role_statements(package: Package, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in package.properties(role).get("Policies", [])
        for statement in _statements(policy["PolicyDocument"])
    ]


def _all_statements(package: Package) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every identity-policy statement in the template, with the resource that holds it."""
    for logical_id, resource in package.resources.items():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::IAM::Role":
            for statement in _role_statements(package, logical_id):
                yield logical_id, statement
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            for statement in _statements(props["PolicyDocument"]):
                yield logical_id, statement
        elif resource["Type"] == "AWS::Serverless::Function":
            assert "Policies" not in props, f"{logical_id}: permissions belong on its role"


def _allows(statements: list[dict[str, Any]], action: str, resource: Any) -> bool:
    return any(
        statement["Effect"] == "Allow"
        and action in _as_list(statement["Action"])
        and resource in _as_list(statement["Resource"])
        for statement in statements
    )


def _granted_actions(statements: list[dict[str, Any]]) -> set[str]:
    return {
        action
        for statement in statements
        if statement["Effect"] == "Allow"
        for action in _as_list(statement["Action"])
    }


@cache
def _operations(service: str) -> frozenset[str]:
    model = botocore.session.get_session().get_service_model(service)
    return frozenset(model.operation_names)


def _settings_environment_names() -> set[str]:
    """The environment variable names :class:`Settings` reads."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice) for choice in alias.choices)
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(prefix + field_name)
    return {name.upper() for name in names}


# --- lint -------------------------------------------------------------------------------------


def test_cfn_lint_is_clean(package: Package) -> None:
    result = subprocess.run(
        [str(BIN / "cfn-lint"), str(package.directory / "sam.json")],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"cfn-lint findings:\n{result.stdout}\n{result.stderr}"


def test_package_holds_the_code_and_both_functions(package: Package) -> None:
    assert (package.directory / "deployment.zip").stat().st_size > 0
    assert package.template["Transform"] == "AWS::Serverless-2016-10-31"
    for function in FUNCTIONS:
        assert package.resources[function]["Type"] == "AWS::Serverless::Function"
    assert package.properties(API_FUNCTION)["Handler"] == "app.app"
    assert package.properties(STREAM_FUNCTION)["Handler"] == "app.on_table_change"
    job = package.properties(JOB_FUNCTION)
    assert job["Handler"] == "app.expire_outsourcings"
    assert [e["Type"] for e in job["Events"].values()] == ["Schedule"]
    retry = package.properties(RETRY_FUNCTION)
    assert retry["Handler"] == "app.retry_dead_letters"
    assert not retry.get("Events")  # invoked by the operator only
    notify = package.properties(NOTIFY_FUNCTION)
    assert notify["Handler"] == "app.retry_notifications"
    assert [e["Type"] for e in notify["Events"].values()] == ["Schedule"]


_RESOLVE_HANDLERS = """
import importlib, json, sys
found = {}
for handler in sys.argv[1:]:
    module, name = handler.rsplit(".", 1)
    target = getattr(importlib.import_module(module), name)
    # The app keeps (function, event type) pairs; an event handler the functions themselves.
    middleware = [m[0] if isinstance(m, tuple) else m for m in target.middleware_handlers]
    found[handler] = [getattr(m, "__name__", type(m).__name__) for m in middleware]
print(json.dumps(found))
"""


def test_every_function_runs_the_composed_app_with_its_middleware(package: Package) -> None:
    # Lambda imports only the module its Handler names: each must give the app's middleware.
    handlers = [package.properties(function)["Handler"] for function in FUNCTIONS]
    result = subprocess.run(
        [sys.executable, "-c", _RESOLVE_HANDLERS, *handlers],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = json.loads(result.stdout)
    observability = ["ConvertToMiddleware", "ConvertToMiddleware"]
    assert {handler: names[:2] for handler, names in found.items()} == {
        handler: observability for handler in handlers
    }
    assert found["app.app"] == [*observability, "http_middleware"]


# --- stream -----------------------------------------------------------------------------------


def _stream_event(package: Package) -> dict[str, Any]:
    event: dict[str, Any] = package.properties(STREAM_FUNCTION)["Events"][STREAM_EVENT]
    assert event["Type"] == "DynamoDB"
    props: dict[str, Any] = event["Properties"]
    return props


def test_stream_reads_the_main_table(package: Package) -> None:
    props = _stream_event(package)
    assert props["Stream"] == STREAM_ARN
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert 1 <= props["BatchSize"] <= 1000


def test_stream_has_one_consumer(package: Package) -> None:
    """DynamoDB allows two readers per shard: the service uses exactly one."""
    consumers = [
        (logical_id, name)
        for logical_id, resource in package.resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for name, event in resource["Properties"].get("Events", {}).items()
        if event["Type"] == "DynamoDB"
    ]
    consumers += [
        (logical_id, "EventSourceMapping")
        for logical_id, resource in package.resources.items()
        if resource["Type"] == "AWS::Lambda::EventSourceMapping"
    ]
    assert consumers == [(STREAM_FUNCTION, STREAM_EVENT)]


def test_stream_reports_partial_batch_failures(package: Package) -> None:
    assert _stream_event(package)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_stream_retries_are_bounded_and_bisect(package: Package) -> None:
    props = _stream_event(package)
    # -1 would mean "retry forever" / "no age limit" and block the shard behind one bad record.
    assert 1 <= props["MaximumRetryAttempts"] <= 10_000
    assert props["BisectBatchOnFunctionError"] is True
    assert 60 <= props["MaximumRecordAgeInSeconds"] <= 86_400


def test_stream_failures_go_to_the_dead_letter_queue(package: Package) -> None:
    destination = _stream_event(package)["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == QUEUE_ARN
    assert package.resources["StreamDeadLetterQueue"]["Type"] == "AWS::SQS::Queue"


def test_stream_event_uses_only_known_sam_properties(package: Package) -> None:
    """cfn-lint does not look inside SAM events: check the names against its SAM schema."""
    schemas = Path(cfnlint.__file__).parent / "data" / "schemas"
    provider = json.loads((schemas / "providers" / "sam.json").read_text())
    schema_file = schemas / "resources" / f"{provider['AWS::Serverless::Function']}.json"
    definitions = json.loads(schema_file.read_text())["definitions"]
    known = definitions["DynamoDBEventProperties"]["properties"]
    props = _stream_event(package)
    assert set(props) <= set(known), set(props) - set(known)
    on_failure = props["DestinationConfig"]["OnFailure"]
    assert set(on_failure) <= set(
        known["DestinationConfig"]["properties"]["OnFailure"]["properties"]
    )


# --- data -------------------------------------------------------------------------------------


def test_tables_are_on_demand_recoverable_and_protected(package: Package) -> None:
    tables = {
        logical_id: resource
        for logical_id, resource in package.resources.items()
        if resource["Type"] == "AWS::DynamoDB::Table"
    }
    assert "MainTable" in tables
    for logical_id, resource in tables.items():
        props = resource["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
        pitr = props["PointInTimeRecoverySpecification"]
        assert pitr["PointInTimeRecoveryEnabled"] is True, logical_id
        assert props["DeletionProtectionEnabled"] is True, logical_id
        assert resource["DeletionPolicy"] == "Retain", logical_id
        assert resource["UpdateReplacePolicy"] == "Retain", logical_id


# --- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_gets_its_configuration(package: Package, function: str) -> None:
    variables = package.properties(function)["Environment"]["Variables"]
    for name, value in EXPECTED_ENVIRONMENT.items():
        assert variables.get(name) == value, name


@pytest.mark.parametrize("function", FUNCTIONS)
def test_function_environment_names_are_read_by_settings(package: Package, function: str) -> None:
    """A misspelt variable would silently leave a setting at its local default."""
    read = _settings_environment_names()
    variables = package.properties(function)["Environment"]["Variables"]
    unread = {name for name in variables if not name.startswith("POWERTOOLS_")} - read
    assert not unread
    assert "POWERTOOLS_SERVICE_NAME" in read


# --- permissions ------------------------------------------------------------------------------


def test_each_function_has_its_own_role(package: Package) -> None:
    roles = [package.role_of(function) for function in FUNCTIONS]
    assert len(set(roles)) == len(roles)
    for role in roles:
        assert package.resources[role]["Type"] == "AWS::IAM::Role"
        trust = _statements(package.properties(role)["AssumeRolePolicyDocument"])
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]


def test_no_statement_grants_everything(package: Package) -> None:
    statements = list(_all_statements(package))
    assert statements
    for holder, statement in statements:
        actions = _as_list(statement.get("Action", []))
        assert "NotAction" not in statement and "NotResource" not in statement, holder
        for action in actions:
            # Neither "*" nor "service:*" nor "service:Get*": every action is named.
            assert "*" not in action, (holder, statement)
        if "*" in _as_list(statement["Resource"]):
            assert set(actions) <= RESOURCE_WILDCARD_ALLOWED, (holder, statement)


def test_every_action_exists(package: Package) -> None:
    for holder, statement in _all_statements(package):
        for action in _as_list(statement["Action"]):
            if action in IAM_ONLY_ACTIONS:
                continue
            prefix, operation = action.split(":", 1)
            services = IAM_PREFIX_SERVICES[prefix]
            assert any(operation in _operations(service) for service in services), (holder, action)


def test_no_function_may_scan(package: Package) -> None:
    for holder, statement in _all_statements(package):
        assert "dynamodb:Scan" not in _as_list(statement["Action"]), holder


def test_functions_write_only_their_own_logs(package: Package) -> None:
    for function in FUNCTIONS:
        log_group = package.properties(function)["LoggingConfig"]["LogGroup"]["Ref"]
        assert package.resources[log_group]["Type"] == "AWS::Logs::LogGroup"
        assert package.properties(log_group)["RetentionInDays"] > 0
        statements = _role_statements(package, package.role_of(function))
        log_resources = [
            statement["Resource"]
            for statement in statements
            if any(action.startswith("logs:") for action in _as_list(statement["Action"]))
        ]
        assert log_resources == [{"Fn::GetAtt": [log_group, "Arn"]}]


def test_api_handler_permissions(package: Package) -> None:
    statements = _role_statements(package, package.role_of(API_FUNCTION))
    for action in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query"):
        assert _allows(statements, f"dynamodb:{action}", TABLE_ARN), action
    assert _allows(statements, "dynamodb:Query", INDEX_ARNS)
    for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
        assert _allows(statements, action, OBJECT_ARNS), action
    assert _allows(statements, "cognito-idp:AdminGetUser", POOL_ARN)
    assert _allows(statements, "cognito-idp:AdminInitiateAuth", POOL_ARN)
    assert _allows(statements, "ssm:GetParameter", OPERATOR_KEY_ARN)
    assert "ses:SendEmail" in _granted_actions(statements)
    # Reading the stream and dead-lettering records are the stream function's business.
    granted = _granted_actions(statements)
    assert not granted & {"dynamodb:GetRecords", "dynamodb:GetShardIterator", "sqs:SendMessage"}


def test_stream_handler_permissions(package: Package) -> None:
    statements = _role_statements(package, package.role_of(STREAM_FUNCTION))
    for action in ("DescribeStream", "GetRecords", "GetShardIterator"):
        assert _allows(statements, f"dynamodb:{action}", STREAM_ARN), action
    assert _allows(statements, "dynamodb:ListStreams", "*")
    assert _allows(statements, "sqs:SendMessage", QUEUE_ARN)
    for action in ("GetItem", "PutItem", "UpdateItem", "Query"):
        assert _allows(statements, f"dynamodb:{action}", TABLE_ARN), action
    assert _allows(statements, "s3:DeleteObject", OBJECT_ARNS)
    assert "ses:SendEmail" in _granted_actions(statements)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_mail_only_from_the_service_address(package: Package, function: str) -> None:
    statements = _role_statements(package, package.role_of(function))
    for statement in statements:
        if "ses:SendEmail" in _as_list(statement["Action"]):
            condition = statement["Condition"]["StringEquals"]
            assert condition == {"ses:FromAddress": {"Ref": "MailFrom"}}


def test_expiry_job_permissions(package: Package) -> None:
    statements = _role_statements(package, package.role_of(JOB_FUNCTION))
    for action in ("GetItem", "UpdateItem", "ConditionCheckItem"):
        assert _allows(statements, f"dynamodb:{action}", TABLE_ARN), action
    assert _allows(statements, "dynamodb:Query", INDEX_ARNS)
    granted = _granted_actions(statements)
    # No stream, no files, no credentials: it only moves outsourcings to 'expired'.
    assert not granted & {
        "dynamodb:GetRecords",
        "sqs:SendMessage",
        "s3:GetObject",
        "ssm:GetParameter",
        "cognito-idp:AdminGetUser",
    }


def test_notification_retry_permissions(package: Package) -> None:
    statements = _role_statements(package, package.role_of(NOTIFY_FUNCTION))
    for action in ("GetItem", "UpdateItem", "Query"):
        assert _allows(statements, f"dynamodb:{action}", TABLE_ARN), action
    assert _allows(statements, "dynamodb:Query", INDEX_ARNS)
    assert "ses:SendEmail" in _granted_actions(statements)
    assert not _granted_actions(statements) & {"dynamodb:GetRecords", "sqs:SendMessage"}
    variables = package.properties(NOTIFY_FUNCTION)["Environment"]["Variables"]
    assert variables["PORTAL_URL"] == {"Ref": "PortalUrl"}


def test_dead_letter_retry_permissions(package: Package) -> None:
    statements = _role_statements(package, package.role_of(RETRY_FUNCTION))
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage"):
        assert _allows(statements, action, QUEUE_ARN), action
    for action in ("GetRecords", "GetShardIterator"):
        assert _allows(statements, f"dynamodb:{action}", STREAM_ARN), action
    for action in ("GetItem", "PutItem", "UpdateItem", "Query"):
        assert _allows(statements, f"dynamodb:{action}", TABLE_ARN), action
    variables = package.properties(RETRY_FUNCTION)["Environment"]["Variables"]
    assert variables["DEAD_LETTER_QUEUE_URL"] == {"Ref": "StreamDeadLetterQueue"}
