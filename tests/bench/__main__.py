"""``make bench``: cold start and request budgets, printed as a table.

Budgets (ARCHITECTURE.md, issue 11): importing each function's handler costs at most 1.3x
``import boto3`` plus creating one DynamoDB client (ARCHITECTURE.md's 1.2x is shown as the
target), from the deployment package with its shipped bytecode and locally with a warm cache
(``tests/bench/cold_start.py``); any list endpoint is one Query per page whatever the table
holds; no Scan on any request path; one synchronized note costs at most 2 DynamoDB writes and 3
reads end to end; the local sync lag stays under 1 s at the 99th percentile at 20 notes/s.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RUNS = 7


def list_budgets() -> list[tuple[str, str, str, str]]:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "TABLE_NAME": "bench-main",
            "BUCKET_NAME": "bench-files",
            "OPERATOR_KEY": "bench-operator-key-0123456789",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.adapters.dynamo.tickets import DynamoTicketRepository
    from chalicelib.container import reset_container
    from chalicelib.domain.clock import utcnow
    from chalicelib.domain.ids import new_id
    from chalicelib.domain.tickets import Ticket
    from infra.local.resources import Clients, provision
    from tests.bench.counting import count_dynamodb

    rows: list[tuple[str, str, str, str]] = []
    with mock_aws():
        reset_container()
        provision(
            Clients(
                dynamodb=boto3.client("dynamodb"), s3=boto3.client("s3"), ses=boto3.client("ses")
            ),
            table_name="bench-main",
            bucket_name="bench-files",
            mail_from="no-reply@bench.example",
        )
        from app import app

        with Client(app) as client:
            headers = {"Authorization": "Bearer bench-operator-key-0123456789"}

            def call(method: str, path: str, key: str, body: str | None = None) -> Any:
                return client.http.request(
                    method,
                    path,
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                    body=body or b"",
                )

            import json

            for size in (10, 2000):
                created = client.http.post(
                    "/v1/admin/tenants",
                    headers={**headers, "Content-Type": "application/json"},
                    body=json.dumps(
                        {
                            "name": f"Bench {size}",
                            "language": "en",
                            "currency": "USD",
                            "contact_email": "b@bench.example",
                        }
                    ),
                )
                tenant = json.loads(created.body)
                key = tenant["api_key"]
                repo = DynamoTicketRepository()
                now = utcnow()
                for n in range(size):
                    repo.add(
                        Ticket(
                            tenant_id=tenant["tenant_id"],
                            ticket_id=new_id(),
                            number=f"T20261125.{n:04d}",
                            title=f"ticket {n}",
                            currency="USD",
                            created_at=now,
                            updated_at=now,
                        )
                    )
                call("GET", "/v1/tenant", key)  # authenticate once (cached afterwards)
                pages = {
                    "tickets": "/v1/tickets?limit=100",
                    "tickets?status": "/v1/tickets?limit=100&status=new",
                }
                for label, path in pages.items():
                    with count_dynamodb() as counter:
                        started = time.perf_counter()
                        reply = call("GET", path, key)
                        elapsed = time.perf_counter() - started
                    assert reply.status_code == 200, reply.body
                    rows.append(
                        (
                            f"GET /v1/{label} page, {size} tickets",
                            f"{counter.calls['Query']} Query, {counter.scans} Scan",
                            f"{elapsed * 1000:.0f} ms",
                            "1 Query, 0 Scan",
                        )
                    )
    return rows


def main() -> None:
    from tests.bench.cold_start import cold_start
    from tests.bench.costs import unit_costs
    from tests.bench.feed_budget import feed_cost, feed_lag
    from tests.bench.route_budget import route_budgets
    from tests.bench.sync_budget import note_budget
    from tests.bench.sync_lag import note_lag

    rows = [
        *cold_start(),
        *list_budgets(),
        *note_budget(),
        *note_lag(),
        *feed_cost(),
        *feed_lag(),
        *unit_costs(),
        *route_budgets(),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    header = ("measure", "figure", "detail", "budget")
    widths = [max(w, len(h)) for w, h in zip(widths, header, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
