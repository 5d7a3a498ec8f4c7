"""DynamoDB requests of every route, and of the stream reactions each one causes, on moto.

Every route in the registry is called once with the owner's own ids and a valid body (the
success path, as ``tests/integration/test_isolation.py`` builds it), with the key already
verified; then the stream is drained. Budgets (ARCHITECTURE.md): no Scan anywhere; a list is one
Query per page; every other route a fixed handful of requests (printed).
"""

from __future__ import annotations

import os
from typing import Any

from tests.bench.costs import OPERATOR, Units, _counted, _env

Row = tuple[str, str, str, str]
LIST_BUDGET = 1


def _is_list(spec: Any) -> bool:
    return (
        spec.method == "GET"
        and spec.response is not None
        and "items" in getattr(spec.response, "model_fields", {})
    )


def route_budgets() -> list[Row]:
    _env()
    os.environ["TABLE_NAME"] = "bench-routes"
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.container import reset_container
    from infra.local.pump import StreamPump
    from infra.local.resources import Clients, provision
    from tests.integration.conftest import Harness
    from tests.integration.samples import valid_body
    from tests.integration.test_isolation import _fill, _owned_things

    rows: list[Row] = []
    over = 0
    with mock_aws():
        reset_container()
        provisioned = provision(
            Clients(
                dynamodb=boto3.client("dynamodb"),
                s3=boto3.client("s3"),
                ses=boto3.client("ses"),
                cognito=boto3.client("cognito-idp"),
            ),
            table_name="bench-routes",
            bucket_name="bench-costs-files",
            mail_from="no-reply@bench.example",
        )
        os.environ["USER_POOL_ID"] = provisioned.user_pool_id or ""
        os.environ["USER_POOL_CLIENT_ID"] = provisioned.user_pool_client_id or ""
        reset_container()
        from app import app
        from chalicelib.api.routing import REGISTRY
        from chalicelib.streams.handler import on_table_change

        pump = StreamPump(boto3.client("dynamodbstreams"), provisioned.stream_arn, on_table_change)
        with Client(app) as client:
            harness = Harness(
                backend="moto",
                client=client,
                table_name="bench-routes",
                bucket_name="bench-costs-files",
                stream_arn=provisioned.stream_arn,
                dynamodb_endpoint=None,
                pump=pump,
            )
            owner = harness.create_tenant("Owner")
            harness.enable_outsourcing(owner)
            ids = {**_owned_things(harness, owner), "tenant_id": owner.tenant_id}
            ids.setdefault("token", "fl_unknown")
            pump.drain()
            harness.get("/v1/tenant", owner.key)  # the key verified once, then cached
            ordered = sorted(REGISTRY, key=lambda s: (s.method == "DELETE", s.path, s.method))
            for spec in ordered:
                path = _fill(spec, ids) if "{" in spec.path else spec.path
                key = {"tenant": owner.key, "operator": OPERATOR, "none": None}[spec.auth]
                api: Units
                api, stop = _counted()
                try:
                    reply = harness.request(
                        spec.method, path, key=key, json_body=valid_body(spec.body)
                    )
                finally:
                    stop()
                reaction, stop = _counted()
                try:
                    pump.drain()
                finally:
                    stop()
                scans = api.requests["Scan"] + reaction.requests["Scan"]
                queries = api.requests["Query"]
                budget = "0 Scan"
                verdict = scans == 0
                if _is_list(spec) and reply.status_code == 200:
                    budget = f"{LIST_BUDGET} Query, 0 Scan"
                    verdict = verdict and queries <= LIST_BUDGET
                over += not verdict
                rows.append(
                    (
                        f"route: {spec.method} {spec.path} ({reply.status_code})",
                        f"{sum(api.requests.values())} requests ({queries} Query)",
                        f"reactions {sum(reaction.requests.values())} requests",
                        budget + ("" if verdict else "  OVER"),
                    )
                )
    reset_container()
    rows.append(("routes over budget", str(over), f"of {len(rows)} routes", "0"))
    return rows


if __name__ == "__main__":
    for row in route_budgets():
        print("  ".join(row))
