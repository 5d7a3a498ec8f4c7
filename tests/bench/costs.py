"""What the product's units of work cost in AWS requests: one partner outsourcing through its
whole life, and one acceptance through the Subcontractor Portal (fee metering included),
counted on the app's DynamoDB client across the API calls and every stream reaction they cause
(the change feed included), plus the emails sent. ``README.md`` ("Scale and cost") turns the
figures into dollars at on-demand prices.

Write units are estimated from the requests' items: one per started KB of a plain write, two
for each item of a transaction; read units one per strongly consistent read of up to 4 KB (the
service's reads are small and strongly consistent where a decision depends on them).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.bench.counting import item_size

Row = tuple[str, str, str, str]
OPERATOR = "op_" + "x" * 40


def _env() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "TABLE_NAME": "bench-costs",
            "BUCKET_NAME": "bench-costs-files",
            "OPERATOR_KEY": OPERATOR,
            "MAIL_FROM": "no-reply@bench.example",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )


class Units:
    """Requests by operation and the units they consume (estimated from their items)."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.write_units = 0
        self.read_units = 0

    def __call__(self, model: Any, params: dict[str, Any], **kwargs: Any) -> None:
        name = model.name
        self.requests[name] += 1
        if name == "TransactWriteItems":
            for op in params.get("TransactItems", []):
                write = next(iter(op.values()))
                item = write.get("Item") or {
                    **write.get("Key", {}),
                    **write.get("ExpressionAttributeValues", {}),
                }
                self.write_units += 2 * max(1, math.ceil(item_size(item) / 1024))
        elif name in {"PutItem", "UpdateItem", "DeleteItem"}:
            item = params.get("Item") or {
                **params.get("Key", {}),
                **params.get("ExpressionAttributeValues", {}),
            }
            self.write_units += max(1, math.ceil(item_size(item) / 1024))
        elif name in {"GetItem", "Query"}:
            self.read_units += 1

    def summary(self) -> str:
        shown = ", ".join(f"{n} {op}" for op, n in sorted(self.requests.items()))
        return f"{sum(self.requests.values())} requests ({shown})"


def _counted() -> Any:
    from chalicelib.adapters.dynamo.table import Record

    units = Units()
    client = Record._get_connection().connection.client
    client.meta.events.register("before-parameter-build.dynamodb", units)
    return units, lambda: client.meta.events.unregister("before-parameter-build.dynamodb", units)


@contextmanager
def bench_world(table_name: str) -> Iterator[Any]:
    """The app on moto with every resource provisioned (the user pool included), its stream
    pump, and a :class:`Harness` to call it as a client would; reset afterwards."""
    _env()
    os.environ["TABLE_NAME"] = table_name
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.container import reset_container
    from infra.local.pump import StreamPump
    from infra.local.resources import Clients, provision
    from tests.integration.conftest import Harness

    bucket = f"{table_name}-files"
    os.environ["BUCKET_NAME"] = bucket
    with mock_aws():
        reset_container()
        provisioned = provision(
            Clients(
                dynamodb=boto3.client("dynamodb"),
                s3=boto3.client("s3"),
                ses=boto3.client("ses"),
                cognito=boto3.client("cognito-idp"),
            ),
            table_name=table_name,
            bucket_name=bucket,
            mail_from="no-reply@bench.example",
        )
        os.environ["USER_POOL_ID"] = provisioned.user_pool_id or ""
        os.environ["USER_POOL_CLIENT_ID"] = provisioned.user_pool_client_id or ""
        reset_container()
        from app import app
        from chalicelib.streams.handler import on_table_change

        pump = StreamPump(boto3.client("dynamodbstreams"), provisioned.stream_arn, on_table_change)
        try:
            with Client(app) as client:
                yield Harness(
                    backend="moto",
                    client=client,
                    table_name=table_name,
                    bucket_name=bucket,
                    stream_arn=provisioned.stream_arn,
                    dynamodb_endpoint=None,
                    pump=pump,
                )
        finally:
            reset_container()


def unit_costs() -> list[Row]:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from tests.integration.portal_support import add_company

    rows: list[Row] = []
    with bench_world("bench-costs") as harness:
        pump = harness.pump
        mail = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
        lead, partner = harness.create_tenant("Lead"), harness.create_tenant("Partner")
        partnership = harness.partner(lead, partner)
        company = add_company(harness, lead)
        ticket = harness.create_ticket(lead)["ticket_id"]
        portal_ticket = company.outsource()
        pump.drain()
        harness.get("/v1/tenant", lead.key)
        harness.get("/v1/tenant", partner.key)  # keys verified once, then cached

        # One partner outsourcing from assignment to approval, every reaction drained.
        emails_before = len(mail.sent_messages)
        units, stop = _counted()
        try:
            oid = harness.outsource(lead, ticket, partnership)["outsourcing_id"]
            pump.drain()
            for key, event in (
                (partner.key, "accept"),
                (partner.key, "submit-completion"),
                (lead.key, "approve"),
            ):
                reply = harness.post(f"/v1/outsourcings/{oid}/{event}", key)
                assert reply.status_code == 200, reply.body
                pump.drain()
        finally:
            stop()
        emails = len(mail.sent_messages) - emails_before
        rows.append(
            (
                "cost: partner outsourcing, assign to approval (4 API calls)",
                units.summary(),
                f"~{units.write_units} WRU, ~{units.read_units} RRU, {emails} emails",
                "",
            )
        )

        # One acceptance through the portal: the form, the fee, the notification, the feed.
        emails_before = len(mail.sent_messages)
        units, stop = _counted()
        try:
            company.accept(portal_ticket)
            pump.drain()
        finally:
            stop()
        emails = len(mail.sent_messages) - emails_before
        fees = harness.get("/v1/outsourcing/fees", lead.key).json["items"]
        assert [f["outsourcing_id"] for f in fees] == [portal_ticket]
        rows.append(
            (
                "cost: one portal acceptance (1 form post)",
                units.summary(),
                f"~{units.write_units} WRU, ~{units.read_units} RRU, {emails} emails",
                "",
            )
        )
    return rows


if __name__ == "__main__":
    for row in unit_costs():
        print("  ".join(row))
