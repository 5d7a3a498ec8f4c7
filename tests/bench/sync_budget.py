"""Requests one synchronized note costs, end to end, counted on the app's DynamoDB client (the
change feed's own requests are counted apart: ``feed_budget``)."""

from __future__ import annotations

import json
import os
from typing import Any

Row = tuple[str, str, str, str]


def _env() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "TABLE_NAME": "bench-sync",
            "BUCKET_NAME": "bench-sync-files",
            "OPERATOR_KEY": "bench-operator-key-0123456789",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )


def note_budget(notes: int = 20) -> list[Row]:
    """Average DynamoDB requests per synced note: the API write, then the stream reaction."""
    _env()
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.container import reset_container
    from infra.local.pump import StreamPump
    from infra.local.resources import Clients, provision
    from tests.bench.counting import count_dynamodb

    with mock_aws():
        reset_container()
        provisioned = provision(
            Clients(
                dynamodb=boto3.client("dynamodb"), s3=boto3.client("s3"), ses=boto3.client("ses")
            ),
            table_name="bench-sync",
            bucket_name="bench-sync-files",
            mail_from="no-reply@bench.example",
        )
        from app import app
        from chalicelib.streams.handler import on_table_change

        pump = StreamPump(boto3.client("dynamodbstreams"), provisioned.stream_arn, on_table_change)
        with Client(app) as client:

            def call(method: str, path: str, key: str, body: Any = None) -> Any:
                reply = client.http.request(
                    method,
                    path,
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                    body=json.dumps(body) if body is not None else b"",
                )
                assert reply.status_code < 300, reply.body
                return json.loads(reply.body) if reply.body else None

            operator = "bench-operator-key-0123456789"
            tenant = {
                "language": "en",
                "currency": "USD",
                "contact_email": "ops@bench.example",
            }
            lead = call("POST", "/v1/admin/tenants", operator, {"name": "Lead", **tenant})
            partner = call("POST", "/v1/admin/tenants", operator, {"name": "Partner", **tenant})
            lk, pk = lead["api_key"], partner["api_key"]
            version = call("GET", "/v1/outsourcing/agreement", lk)["version"]
            call(
                "POST",
                "/v1/outsourcing/agreement/accept",
                lk,
                {"version": version, "accepted_by": "Bench"},
            )
            call("PUT", "/v1/outsourcing/settings", lk, {"enabled": True})
            token = call(
                "POST",
                "/v1/partner-invitations",
                lk,
                {"email": "p@bench.example", "company_name": "Partner"},
            )["token"]
            partnership = call("POST", "/v1/partner-invitations/accept", pk, {"token": token})[
                "partnership_id"
            ]
            ticket = call("POST", "/v1/tickets", lk, {"title": "Bench"})["ticket_id"]
            outsourcing = call(
                "POST", f"/v1/tickets/{ticket}/outsource", lk, {"partnership_id": partnership}
            )["outsourcing_id"]
            call("POST", f"/v1/outsourcings/{outsourcing}/accept", pk)
            pump.drain()
            call("GET", "/v1/tenant", lk)  # the key is verified once, then cached

            api_reads = api_writes = react_reads = react_writes = scans = 0
            for n in range(notes):
                with count_dynamodb() as api:
                    call("POST", f"/v1/tickets/{ticket}/notes", lk, {"text": f"note {n}"})
                with count_dynamodb() as reaction:
                    delivered = pump.drain()
                # The note's record, then the replica's own record (which the handler skips),
                # and the three records of each feed append (the lead's and the partner's feed:
                # marker, entry, head), which decode to nothing.
                assert delivered == 2 + 2 * 3, delivered
                api_reads += api.reads
                api_writes += api.writes
                react_reads += reaction.reads
                react_writes += reaction.writes
                scans += api.scans + reaction.scans
    per = float(notes)
    total_reads = (api_reads + react_reads) / per
    total_writes = (api_writes + react_writes) / per
    return [
        (
            "sync one note: API write",
            f"{api_writes / per:.1f} writes, {api_reads / per:.1f} reads",
            "",
            "",
        ),
        (
            "sync one note: stream reaction",
            f"{react_writes / per:.1f} writes, {react_reads / per:.1f} reads",
            "",
            "",
        ),
        (
            "sync one note: end to end",
            f"{total_writes:.1f} writes, {total_reads:.1f} reads, {scans} Scan",
            f"{notes} notes",
            "<= 2 writes, <= 3 reads, 0 Scan",
        ),
    ]
