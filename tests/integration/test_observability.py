"""Observability is wired once, as Chalice middleware: every function's log lines carry the
Lambda context, and the metrics an invocation records are published when it ends, without any
entry point flushing them itself."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.observability import logger, metrics
from infra.local.lambda_context import lambda_context
from tests.integration.conftest import Harness


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """The service logger's lines at INFO, in the service's own JSON format."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logger.registered_formatter)
    inner = logger._logger  # the standard logger behind Powertools' Logger
    level = inner.level
    inner.addHandler(handler)
    inner.setLevel(logging.INFO)
    yield out
    inner.removeHandler(handler)
    inner.setLevel(level)


@pytest.fixture
def live_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    """Metrics switched on (the suite switches them off), with nothing pending from before
    (while switched off, Powertools keeps what was recorded)."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics.clear_metrics()


def _emf_metric_names(out: str) -> list[str]:
    return [
        metric["Name"]
        for line in out.splitlines()
        if line.startswith("{") and '"_aws"' in line
        for directive in json.loads(line)["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    ]


def _lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]


def test_api_log_lines_carry_the_lambda_context_and_the_tenant(
    harness: Harness, log_lines: io.StringIO
) -> None:
    # Given a tenant
    tenant = harness.create_tenant()
    # When it creates a ticket
    harness.create_ticket(tenant)
    # Then the use case's log line names the function, the request and the tenant
    created = [line for line in _lines(log_lines) if line["message"] == "ticket created"]
    assert len(created) == 1
    line = created[0]
    assert line["function_name"] == "api_handler"
    assert line["function_request_id"]
    assert line["tenant_id"] == tenant.tenant_id
    assert "cold_start" in line


def test_keys_of_one_request_do_not_leak_into_the_next(
    harness: Harness, log_lines: io.StringIO
) -> None:
    # Given a request authenticated as a tenant
    tenant = harness.create_tenant()
    harness.create_ticket(tenant)
    # When the next request is anonymous and logs something
    assert harness.get("/v1/tickets/whatever", None).status_code == 401
    logger.info("probe")  # outside any invocation now
    # Then no line after the first request carries its tenant
    lines = _lines(log_lines)
    probe = next(line for line in lines if line["message"] == "probe")
    assert "tenant_id" not in probe


@pytest.mark.usefixtures("live_metrics")
def test_metrics_are_published_at_the_end_of_each_invocation(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a tenant
    tenant = harness.create_tenant()
    assert _emf_metric_names(capsys.readouterr().out) == ["TenantCreated"]
    # When a request records a business event
    harness.create_ticket(tenant)
    # Then it left on stdout when the request ended, and nothing is pending afterwards
    assert _emf_metric_names(capsys.readouterr().out) == ["TicketCreated"]
    assert not metrics.metric_set


def test_stream_log_lines_carry_the_stream_functions_context(
    harness: Harness, log_lines: io.StringIO
) -> None:
    # Given a change on the table's stream (an attachment was deleted)
    tenant = harness.create_tenant()
    base = f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}/attachments"
    created = harness.post(
        base, tenant.key, {"file_name": "a.txt", "content_type": "text/plain", "size": 3}
    ).json
    harness.delete(f"{base}/{created['attachment_id']}", tenant.key)
    # When the stream function processes it
    harness.pump.drain()  # the harness pump delivers to the app's own stream function
    # Then the reaction's log line was written inside the stream function's invocation
    deleted = [line for line in _lines(log_lines) if line["message"] == "attachment file deleted"]
    assert deleted, "the stream reaction did not log"
    assert {line["function_name"] for line in deleted} == {"table_stream"}


@pytest.mark.usefixtures("live_metrics")
def test_stream_and_job_functions_publish_their_metrics_without_flushing_themselves(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an attachment that was deleted, waiting on the stream
    from chalicelib.jobs import expire_outsourcings

    tenant = harness.create_tenant()
    base = f"/v1/tickets/{harness.create_ticket(tenant)['ticket_id']}/attachments"
    created = harness.post(
        base, tenant.key, {"file_name": "a.txt", "content_type": "text/plain", "size": 3}
    ).json
    harness.delete(f"{base}/{created['attachment_id']}", tenant.key)
    capsys.readouterr()
    # When the stream function processes the batch and a metric is recorded in it
    metrics.add_metric(name="Probe", unit="Count", value=1)
    harness.pump.drain()
    # Then the middleware published it when the invocation ended
    assert "Probe" in _emf_metric_names(capsys.readouterr().out)
    assert not metrics.metric_set
    # And the same holds for a scheduled job
    metrics.add_metric(name="Probe", unit="Count", value=1)
    scheduled = {
        "version": "0",
        "id": "probe",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": "2026-12-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": {},
    }
    assert expire_outsourcings(scheduled, lambda_context("expire_outsourcings")) == {"expired": 0}
    assert "Probe" in _emf_metric_names(capsys.readouterr().out)
