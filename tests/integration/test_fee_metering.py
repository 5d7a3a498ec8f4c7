"""Fee metering through the real stream handler: exactly one fee per acceptance through the
portal, however often the stream is replayed, retried or re-read, and racing writers of one fee
store and count it once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from chalicelib.container import get_container
from chalicelib.domain.fees import FeeRecord, Month
from chalicelib.domain.ids import new_id
from chalicelib.domain.outsourcing import Lane
from chalicelib.streams.handler import on_table_change
from infra.local.pump import StreamPump
from tests.integration.conftest import Harness
from tests.integration.fee_support import (
    NOVEMBER_DAY,
    S,
    accept,
    assign,
    bill,
    move,
    set_plan,
    whole_bill,
)
from tests.integration.sync_support import (
    deliver,
    replay_whole_stream,
    stream_records,
    streams_client,
)


def _acceptances(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The stream records of lead copies moving from assigned to in progress."""

    def status(image: dict[str, Any] | None) -> str | None:
        return (image or {}).get("status", {}).get("S")

    return [
        r
        for r in records
        if r["dynamodb"].get("NewImage", {}).get("type", {}).get("S") == "outsourcing"
        and r["dynamodb"]["NewImage"]["side"]["S"] == "lead"
        and status(r["dynamodb"].get("OldImage")) == "assigned"
        and status(r["dynamodb"]["NewImage"]) == "in_progress"
    ]


def test_each_acceptance_through_the_portal_is_one_fee_on_the_bill(harness: Harness) -> None:
    # Given a lead charged 12.50 EUR per acceptance
    lead = harness.create_tenant("Lead IT")
    assert set_plan(harness, lead, "12.5", "EUR").status_code == 200
    # When two companies accept work, and a partner accepts other work
    first, second = assign(harness, lead), assign(harness, lead, company_name="Other Techs")
    partner_work = assign(harness, lead, lane=Lane.PARTNER)
    accept(first, NOVEMBER_DAY)
    accept(second, NOVEMBER_DAY + timedelta(hours=2))
    accept(partner_work, NOVEMBER_DAY + timedelta(hours=3))
    harness.pump.drain()
    # Then the bill holds one fee per portal acceptance, oldest first, and the month's total
    reply = bill(harness, lead)
    assert reply.status_code == 200, reply.body
    body = reply.json
    assert [f["outsourcing_id"] for f in body["items"]] == [
        first.outsourcing_id,
        second.outsourcing_id,
    ]
    assert body["items"][0] == {
        "outsourcing_id": first.outsourcing_id,
        "subcontractor_id": first.subcontractor_id,
        "company_id": first.lead.receiver_id,
        "company_name": "Field Techs Ltd",
        "accepted_at": "2026-11-10T09:00:00.000Z",
        "amount": "12.50",
        "currency": "EUR",
        "fee_plan_set": True,
    }
    assert body["total"] == {"count": 2, "amount": "25.00", "currency": "EUR"}
    assert body["totals"] == [body["total"]]
    assert (body["tenant_id"], body["month"], body["next_cursor"]) == (
        lead.tenant_id,
        "2026-11",
        None,
    )


def test_replays_retries_and_rereading_the_stream_add_no_second_fee(harness: Harness) -> None:
    # Given two metered acceptances
    lead = harness.create_tenant()
    set_plan(harness, lead, 10, "USD")
    works = [assign(harness, lead) for _ in range(2)]
    for work in works:
        accept(work)
    harness.pump.drain()
    before = bill(harness, lead).json
    assert before["total"] == {"count": 2, "amount": "20.00", "currency": "USD"}
    records = stream_records(harness)
    acceptances = _acceptances(records)
    assert len(acceptances) == 2
    # When the acceptances' records are delivered again, twice in one batch (a retried batch)
    deliver(acceptances + acceptances)
    # And the whole stream is delivered again, and re-read by fresh consumers (a restart
    # without checkpoints), twice
    deliver(records)
    replay_whole_stream(harness)
    replay_whole_stream(harness)
    # Then the bill is unchanged: one fee per acceptance, counted once
    assert bill(harness, lead).json == before


def test_a_batch_retried_after_its_fee_was_written_adds_no_second_fee(harness: Harness) -> None:
    # Given an acceptance, and a consumer that crashes after handling each batch the first
    # time (it wrote the fee but never acknowledged the batch), so every batch comes again
    lead = harness.create_tenant()
    set_plan(harness, lead, "5", "EUR")
    accept(assign(harness, lead))
    delivered: list[int] = []

    def crash_once(event: dict[str, Any], context: Any) -> Any:
        result = on_table_change(event, context)
        delivered.append(len(event["Records"]))
        if len(delivered) == 1:
            first = event["Records"][0]["dynamodb"]["SequenceNumber"]
            return {"batchItemFailures": [{"itemIdentifier": first}]}
        return result

    # When the stream is consumed that way
    StreamPump(streams_client(harness), harness.stream_arn, crash_once).drain()
    # Then the batch was delivered twice, and the bill holds one fee
    assert len(delivered) >= 2
    assert bill(harness, lead).json["total"] == {"count": 1, "amount": "5.00", "currency": "EUR"}


def test_work_outsourced_again_and_accepted_again_is_a_new_fee(harness: Harness) -> None:
    # Given accepted work that was recalled
    lead = harness.create_tenant()
    set_plan(harness, lead, "3.3333", "USD")
    first = assign(harness, lead)
    accept(first)
    move(first, S.IN_PROGRESS, S.RECALLED, NOVEMBER_DAY + timedelta(hours=1))
    # When the same ticket is outsourced again and the new outsourcing is accepted
    again = assign(harness, lead, ticket_id=first.lead.lead_ticket_id)
    accept(again, NOVEMBER_DAY + timedelta(days=1))
    harness.pump.drain()
    replay_whole_stream(harness)
    # Then there are two fees, one per acceptance
    fees = whole_bill(harness, lead)
    assert [f["outsourcing_id"] for f in fees] == [first.outsourcing_id, again.outsourcing_id]
    assert bill(harness, lead).json["total"] == {"count": 2, "amount": "6.6666", "currency": "USD"}


def test_other_moves_of_subcontractor_work_cost_nothing(harness: Harness) -> None:
    # Given a lead with a fee plan and subcontractor work that is declined, and work that is
    # accepted, submitted, rejected (resumed) and approved
    lead = harness.create_tenant()
    set_plan(harness, lead, 10, "USD")
    declined, worked = assign(harness, lead), assign(harness, lead)
    at = NOVEMBER_DAY
    move(declined, S.ASSIGNED, S.DECLINED, at)
    accept(worked, at)
    move(worked, S.IN_PROGRESS, S.WAITING_APPROVAL, at + timedelta(hours=1))
    move(worked, S.WAITING_APPROVAL, S.IN_PROGRESS, at + timedelta(hours=2))
    move(worked, S.IN_PROGRESS, S.WAITING_APPROVAL, at + timedelta(hours=3))
    move(worked, S.WAITING_APPROVAL, S.COMPLETE, at + timedelta(hours=4))
    # When the stream is processed
    harness.pump.drain()
    # Then only the one acceptance is billed
    assert [f["outsourcing_id"] for f in whole_bill(harness, lead)] == [worked.outsourcing_id]


def test_without_a_fee_plan_the_fee_is_billed_at_zero_in_the_tenants_currency(
    harness: Harness,
) -> None:
    # Given a lead in CHF with no fee plan
    lead = harness.create_tenant(currency="CHF")
    work = assign(harness, lead)
    # When work is accepted through the portal
    accept(work)
    harness.pump.drain()
    # Then the fee is on the bill at 0 CHF, marked as priced without a plan
    body = bill(harness, lead).json
    assert [(f["amount"], f["currency"], f["fee_plan_set"]) for f in body["items"]] == [
        ("0.00", "CHF", False)
    ]
    assert body["total"] == {"count": 1, "amount": "0.00", "currency": "CHF"}


def test_a_fee_is_billed_in_the_month_of_its_acceptance(harness: Harness) -> None:
    # Given work accepted at the very end of November and work accepted at the start of December
    lead = harness.create_tenant()
    set_plan(harness, lead, 1, "USD")
    late, early = assign(harness, lead), assign(harness, lead)
    accept(late, datetime(2026, 11, 30, 23, 59, 59, 999000, tzinfo=UTC))
    accept(early, datetime(2026, 12, 1, tzinfo=UTC))
    harness.pump.drain()
    # Then each month bills its own
    assert [f["outsourcing_id"] for f in whole_bill(harness, lead)] == [late.outsourcing_id]
    december = whole_bill(harness, lead, "2026-12")
    assert [f["outsourcing_id"] for f in december] == [early.outsourcing_id]
    assert bill(harness, lead, "2026-10").json["total"]["count"] == 0


@pytest.mark.parametrize("writers", [2, 4])
@pytest.mark.usefixtures("race_harness")
def test_racing_writes_of_one_fee_store_it_once_and_count_it_once(writers: int) -> None:
    # Given several acceptances, each about to be metered by several consumers at once
    tenant_id = new_id()
    repo = get_container().fees
    fees = [
        FeeRecord(
            tenant_id=tenant_id,
            outsourcing_id=new_id(),
            subcontractor_id=None,
            company_id=new_id(),
            company_name="Field Techs Ltd",
            accepted_at=NOVEMBER_DAY + timedelta(minutes=index),
            amount=Decimal("2.5"),
            currency="EUR",
        )
        for index in range(5)
    ]
    won: list[str] = []
    for fee in fees:
        barrier = threading.Barrier(writers)

        def write(fee: FeeRecord = fee, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            if repo.add(fee):
                won.append(fee.outsourcing_id)

        # When they all write the same fee at the same moment
        threads = [threading.Thread(target=write) for _ in range(writers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Then exactly one write of each fee won, one fee each is stored, and the total counts each once
    assert sorted(won) == sorted(f.outsourcing_id for f in fees)
    listed = repo.list(tenant_id, Month(2026, 11), 100, None).items
    assert sorted(f.outsourcing_id for f in listed) == sorted(won)
    (total,) = repo.total(tenant_id, Month(2026, 11)).by_currency
    assert (total.count, total.amount) == (5, Decimal("12.5"))
