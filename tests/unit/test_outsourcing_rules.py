"""Pure outsourcing rules: the transition table, the terms, and when a ticket synchronises."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.domain.errors import ConflictError, PermissionDeniedError, RuleViolationError
from chalicelib.domain.outsourcing import (
    ENDED,
    NEEDS_REASON,
    OPEN,
    TRANSITIONS,
    Event,
    OutsourceStatus,
    Side,
    Terms,
    check_terms,
    next_status,
)
from chalicelib.domain.sync import Destination, destination_of, syncs
from chalicelib.domain.tickets import Ticket

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)

# The product's transition table, written out independently of the code:
# (from, event) -> to, and who causes each event.
TABLE: dict[tuple[str, str], str] = {
    ("assigned", "accept"): "in_progress",
    ("assigned", "decline"): "declined",
    ("assigned", "cancel"): "canceled",
    ("assigned", "expire"): "expired",
    ("in_progress", "submit_completion"): "waiting_approval",
    ("waiting_approval", "approve"): "complete",
    ("waiting_approval", "reject"): "in_progress",
    ("in_progress", "complete"): "complete",
    ("waiting_approval", "complete"): "complete",
    ("in_progress", "recall"): "recalled",
    ("assigned", "ticket_completed"): "canceled",
    ("in_progress", "ticket_completed"): "complete",
    ("waiting_approval", "ticket_completed"): "complete",
}
BY: dict[str, str] = {
    "accept": "receiver",
    "decline": "receiver",
    "submit_completion": "receiver",
    "cancel": "lead",
    "approve": "lead",
    "reject": "lead",
    "complete": "lead",
    "recall": "lead",
    "ticket_completed": "lead",
    "expire": "system",
}


@pytest.mark.parametrize(
    ("status", "event", "side"), list(itertools.product(OutsourceStatus, Event, Side))
)
def test_every_state_event_and_side_follows_the_table(
    status: OutsourceStatus, event: Event, side: Side
) -> None:
    if BY[event.value] != side.value:
        with pytest.raises(PermissionDeniedError) as wrong:
            next_status(status, event, side)
        assert wrong.value.code == "wrong_side"
    elif (status.value, event.value) in TABLE:
        assert next_status(status, event, side).value == TABLE[(status.value, event.value)]
    else:
        with pytest.raises(ConflictError) as refused:
            next_status(status, event, side)
        assert refused.value.code == "invalid_transition"


def test_the_table_has_no_transition_the_product_does_not_list() -> None:
    assert {(s.value, e.value): t.value for (s, e), t in TRANSITIONS.items()} == TABLE
    assert {e.value for e in Event} == set(BY)


def test_only_the_open_states_lead_anywhere_and_the_ended_ones_are_final() -> None:
    assert {s.value for s in OPEN} == {"assigned", "in_progress", "waiting_approval"}
    assert {s.value for s, _ in TRANSITIONS} == {s.value for s in OPEN}
    assert OPEN.isdisjoint(ENDED)
    assert set(OutsourceStatus) == OPEN | ENDED


def test_decline_reject_and_recall_need_a_reason() -> None:
    assert {e.value for e in NEEDS_REASON} == {"decline", "reject", "recall"}


# ---------------------------------------------------------------------------------------------
# Terms


@pytest.mark.parametrize(
    ("accept_by", "complete_by"),
    [
        (None, None),
        (NOW + timedelta(seconds=1), None),
        (None, NOW + timedelta(seconds=1)),
        (NOW + timedelta(hours=1), NOW + timedelta(days=1)),
        (NOW + timedelta(hours=1), NOW + timedelta(hours=1)),
    ],
)
def test_deadlines_ahead_and_in_order_are_accepted(
    accept_by: datetime | None, complete_by: datetime | None
) -> None:
    check_terms(Terms(accept_by=accept_by, complete_by=complete_by), NOW)


@pytest.mark.parametrize(
    ("accept_by", "complete_by", "code", "field"),
    [
        (NOW, None, "deadline_in_past", "terms.accept_by"),
        (NOW - timedelta(seconds=1), None, "deadline_in_past", "terms.accept_by"),
        (None, NOW, "deadline_in_past", "terms.complete_by"),
        (None, NOW - timedelta(days=1), "deadline_in_past", "terms.complete_by"),
        (NOW - timedelta(hours=1), NOW + timedelta(days=1), "deadline_in_past", "terms.accept_by"),
        (
            NOW + timedelta(hours=1),
            NOW - timedelta(hours=1),
            "deadline_in_past",
            "terms.complete_by",
        ),
        (
            NOW + timedelta(days=2),
            NOW + timedelta(days=1),
            "deadlines_out_of_order",
            "terms.accept_by",
        ),
        (
            NOW + timedelta(hours=1, microseconds=1),
            NOW + timedelta(hours=1),
            "deadlines_out_of_order",
            "terms.accept_by",
        ),
    ],
)
def test_deadlines_in_the_past_or_out_of_order_are_refused(
    accept_by: datetime | None, complete_by: datetime | None, code: str, field: str
) -> None:
    with pytest.raises(RuleViolationError) as refused:
        check_terms(Terms(accept_by=accept_by, complete_by=complete_by), NOW)
    assert (refused.value.code, refused.value.field) == (code, field)


def test_deadlines_in_another_timezone_compare_by_instant() -> None:
    # 11:30 in Berlin is 10:30 UTC: half an hour after NOW, though its wall clock reads earlier
    berlin = datetime(2026, 11, 24, 11, 30, tzinfo=timezone(timedelta(hours=1)))
    check_terms(Terms(accept_by=berlin), NOW)
    # 10:30 in Berlin is 09:30 UTC: already past, though its wall clock reads later
    with pytest.raises(RuleViolationError):
        check_terms(Terms(accept_by=datetime(2026, 11, 24, 10, 30, tzinfo=berlin.tzinfo)), NOW)


# ---------------------------------------------------------------------------------------------
# Synchronisation


def test_only_work_in_progress_synchronises() -> None:
    assert syncs(OutsourceStatus.IN_PROGRESS) is True
    assert syncs(None) is False
    for status in OutsourceStatus:
        if status is not OutsourceStatus.IN_PROGRESS:
            assert syncs(status) is False, status


LINKED = Ticket(
    tenant_id="lead",
    ticket_id="ticket",
    number="T20261124.0001",
    title="Printer offline",
    currency="USD",
    created_at=NOW,
    updated_at=NOW,
    outsourcing_id="outsourcing",
    outsourcing_status=OutsourceStatus.IN_PROGRESS,
    outsourcing_side=Side.LEAD,
    peer_owner_id="partner",
    peer_ticket_id="insourced",
)


@pytest.mark.parametrize("side", [Side.LEAD, Side.RECEIVER])
def test_a_ticket_in_progress_syncs_to_its_peer(side: Side) -> None:
    ticket = dataclasses.replace(LINKED, outsourcing_side=side)
    assert destination_of(ticket) == Destination(
        outsourcing_id="outsourcing", side=side, peer_owner_id="partner", peer_ticket_id="insourced"
    )


@pytest.mark.parametrize(
    "status", [s for s in OutsourceStatus if s is not OutsourceStatus.IN_PROGRESS]
)
def test_a_ticket_not_in_progress_syncs_nowhere(status: OutsourceStatus) -> None:
    assert destination_of(dataclasses.replace(LINKED, outsourcing_status=status)) is None


@pytest.mark.parametrize(
    "missing",
    ["outsourcing_id", "outsourcing_status", "outsourcing_side", "peer_owner_id", "peer_ticket_id"],
)
def test_a_ticket_without_a_complete_link_syncs_nowhere(missing: str) -> None:
    unlinked: dict[str, Any] = {missing: None}
    assert destination_of(dataclasses.replace(LINKED, **unlinked)) is None


def test_a_local_ticket_syncs_nowhere() -> None:
    local = Ticket(
        tenant_id="lead",
        ticket_id="ticket",
        number="T20261124.0002",
        title="Printer offline",
        currency="USD",
        created_at=NOW,
        updated_at=NOW,
    )
    assert destination_of(local) is None
    assert local.open_outsourcing is False
