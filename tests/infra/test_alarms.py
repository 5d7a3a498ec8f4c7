"""CloudWatch alarms of the deployment template (``infra/aws/resources.json``, merged).

Each alarm watches the metric of the resource it names (by reference, so a renamed resource
cannot leave an alarm watching nothing), with the threshold the operations section of the README
documents, and notifies the alarm topic. Every function of the package has its Errors and
Throttles alarm: a function added without them fails here.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infra.packaging import Package

ALARM = "AWS::CloudWatch::Alarm"
TOPIC = {"Ref": "AlarmTopic"}


def _alarms(package: Package) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in package.of_type(ALARM).items()
    }


def _functions(package: Package) -> list[str]:
    return sorted(package.of_type("AWS::Serverless::Function"))


def _watching(
    package: Package, namespace: str, metric: str, dimensions: list[dict[str, Any]]
) -> dict[str, Any]:
    """The one alarm on this metric with exactly these dimensions."""
    found = [
        props
        for props in _alarms(package).values()
        if props["Namespace"] == namespace
        and props["MetricName"] == metric
        and props["Dimensions"] == dimensions
    ]
    assert len(found) == 1, (namespace, metric, dimensions, found)
    return found[0]


def _assert_fires_above(props: dict[str, Any], statistic: str, threshold: float) -> None:
    assert props["Statistic"] == statistic
    assert props["ComparisonOperator"] == "GreaterThanThreshold"
    assert props["Threshold"] == threshold
    # No traffic is no failure: a quiet night must not page anybody.
    assert props["TreatMissingData"] == "notBreaching"


def test_dead_letter_queue_not_empty(package: Package) -> None:
    queue_name = {"Fn::GetAtt": ["StreamDeadLetterQueue", "QueueName"]}
    props = _watching(
        package,
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        [{"Name": "QueueName", "Value": queue_name}],
    )
    _assert_fires_above(props, "Maximum", 0)
    assert props["EvaluationPeriods"] == 1
    # The queue the stream's failures go to, not some other queue.
    event = package.properties("TableStream")["Events"]["TableStreamDynamodbEventSource"]
    destination = event["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["StreamDeadLetterQueue", "Arn"]}


def test_stream_iterator_age_above_a_minute(package: Package) -> None:
    stream_consumers = [
        function
        for function in _functions(package)
        if any(
            event["Type"] == "DynamoDB"
            for event in package.properties(function).get("Events", {}).values()
        )
    ]
    assert stream_consumers == ["TableStream"]
    props = _watching(
        package,
        "AWS/Lambda",
        "IteratorAge",
        [{"Name": "FunctionName", "Value": {"Ref": "TableStream"}}],
    )
    _assert_fires_above(props, "Maximum", 60_000)
    # A sustained lag (3 of 5 minutes), not one slow batch.
    assert props["Period"] == 60
    assert (props["DatapointsToAlarm"], props["EvaluationPeriods"]) == (3, 5)


def test_api_5xx_rate_above_one_percent(package: Package) -> None:
    api = package.properties("RestAPI")
    # A REST API imported from a definition is named after the definition's title.
    assert "Name" not in api
    dimensions = [
        {"Name": "ApiName", "Value": api["DefinitionBody"]["info"]["title"]},
        {"Name": "Stage", "Value": api["StageName"]},
    ]
    props = _watching(package, "AWS/ApiGateway", "5XXError", dimensions)
    _assert_fires_above(props, "Average", 0.01)
    assert props["Period"] * props["EvaluationPeriods"] == 300


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_has_its_alarm(package: Package, metric: str) -> None:
    functions = _functions(package)
    assert len(functions) >= 5
    for function in functions:
        props = _watching(
            package,
            "AWS/Lambda",
            metric,
            [{"Name": "FunctionName", "Value": {"Ref": function}}],
        )
        _assert_fires_above(props, "Sum", 0)


def test_every_alarm_notifies_the_topic(package: Package) -> None:
    alarms = _alarms(package)
    assert len(alarms) == 3 + 2 * len(_functions(package))
    for logical_id, props in alarms.items():
        assert props["AlarmActions"] == [TOPIC], logical_id
        assert props["OKActions"] == [TOPIC], logical_id
        assert props["AlarmDescription"], logical_id
    assert package.resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"


def test_alarm_email_subscription_is_optional(package: Package) -> None:
    parameter = package.template["Parameters"]["AlarmEmail"]
    assert parameter["Default"] == ""
    subscription = package.resources["AlarmEmailSubscription"]
    assert subscription["Type"] == "AWS::SNS::Subscription"
    assert subscription["Condition"] == "HasAlarmEmail"
    assert package.template["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert subscription["Properties"] == {
        "TopicArn": TOPIC,
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
