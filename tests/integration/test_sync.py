"""Synchronisation between a lead's ticket and the partner's insourced copy, through the real
stream handler: every rule, and every guarantee tried against replays, reordering, failures and
interleaving."""

from __future__ import annotations

from collections import Counter
from typing import Any
from urllib.parse import unquote, urlparse

import pytest

from chalicelib.adapters.dynamo.items import DynamoItemRepository
from chalicelib.adapters.s3 import S3FileStore
from chalicelib.domain.items import Item, ItemKind
from chalicelib.domain.sync import replica_id
from chalicelib.streams.handler import on_table_change
from infra.local.pump import StreamPump
from tests.integration.conftest import Harness
from tests.integration.sync_support import (
    CHANGED_FIELDS,
    SEGMENTS,
    Pair,
    RecordingHandler,
    Side,
    add,
    assert_in_sync,
    attach,
    deliver,
    download,
    edit,
    items,
    linked,
    local_items,
    objects,
    outsourced,
    remove,
    replay_whole_stream,
    replicas,
    snapshot,
    stream_records,
    streams_client,
    upload,
)

KINDS = ("note", "time_entry", "charge")


def _both(pair: Pair) -> tuple[Side, Side]:
    return pair.lead, pair.receiver


def _texts(harness: Harness, side: Side) -> set[str]:
    return {i["text"] for i in items(harness, side) if i["kind"] == "note"}


def _ticket(harness: Harness, side: Side) -> dict[str, Any]:
    reply = harness.get(side.base, side.tenant.key)
    assert reply.status_code == 200, reply.body
    data: dict[str, Any] = reply.json
    return data


def _key_of(download_url: str) -> str:
    """The object key a presigned download URL points at (path- or host-style)."""
    path = unquote(urlparse(download_url).path).lstrip("/")
    return path.split("/", 1)[1] if path.startswith("it-files-") else path


# -- what travels ------------------------------------------------------------------------------


def test_public_items_of_each_side_appear_on_the_other_and_internal_ones_stay_home(
    harness: Harness,
) -> None:
    # Given an outsourcing in progress
    pair = linked(harness)
    # When each side adds a public and an internal note, time entry and charge
    for side in _both(pair):
        for kind in KINDS:
            add(harness, side, kind)
            add(harness, side, kind, internal=True)
    harness.pump.drain()
    # Then each side shows exactly its own six items and the other side's three public ones
    assert_in_sync(pair)
    assert len(items(harness, pair.lead)) == len(items(harness, pair.receiver)) == 9
    # And the partner's note is internal on the lead ticket, its time and charge are not
    on_lead = sorted(
        (i["kind"], i["internal"], i["read_only"]) for i in replicas(harness, pair.lead).values()
    )
    assert on_lead == [("charge", False, True), ("note", True, True), ("time_entry", False, True)]
    # And the lead's time entry and charge arrive as read-only time entry and charge
    on_receiver = sorted(
        (i["kind"], i["internal"], i["origin"], i["read_only"])
        for i in replicas(harness, pair.receiver).values()
    )
    assert on_receiver == [
        ("charge", False, "partner", True),
        ("note", False, "partner", True),
        ("time_entry", False, "partner", True),
    ]


def test_edits_and_deletes_of_public_items_follow_them_to_the_other_side(
    harness: Harness,
) -> None:
    # Given a note, time entry and charge on each side, synchronised
    pair = linked(harness)
    made = {(s.role, k): add(harness, s, k) for s in _both(pair) for k in KINDS}
    harness.pump.drain()
    # When each side edits its time entry and charge (the charge twice) and edits then deletes
    # its note
    for side in _both(pair):
        edit(harness, side, made[side.role, "time_entry"], CHANGED_FIELDS["time_entry"])
        edit(harness, side, made[side.role, "charge"], CHANGED_FIELDS["charge"])
        edit(harness, side, made[side.role, "charge"], {"name": "Patch cable"})
        edit(harness, side, made[side.role, "note"], CHANGED_FIELDS["note"])
        remove(harness, side, made[side.role, "note"])
    harness.pump.drain()
    # Then the other side shows the latest version of each, and no note
    assert_in_sync(pair)
    for side in _both(pair):
        other = pair.other(side)
        shown = replicas(harness, other)
        assert sorted(i["kind"] for i in shown.values()) == ["charge", "time_entry"]
        charge = shown[replica_id(pair.outsourcing_id, made[side.role, "charge"]["item_id"])]
        assert (charge["name"], charge["quantity"], charge["version"]) == ("Patch cable", "3", 3)
        entry = shown[replica_id(pair.outsourcing_id, made[side.role, "time_entry"]["item_id"])]
        assert entry["hours_worked"] == "2.25"


def test_an_item_made_internal_leaves_the_other_side_and_returns_when_made_public(
    harness: Harness,
) -> None:
    # Given a public note and charge on each side, synchronised, and a partner note that
    # starts internal
    pair = linked(harness)
    made = {(s.role, k): add(harness, s, k) for s in _both(pair) for k in ("note", "charge")}
    secret = add(harness, pair.receiver, "note", internal=True, text="Was internal")
    harness.pump.drain()
    assert len(replicas(harness, pair.lead)) == len(replicas(harness, pair.receiver)) == 2
    # When every public item is made internal
    for (role, _kind), item in made.items():
        edit(harness, pair.lead if role == "lead" else pair.receiver, item, {"internal": True})
    harness.pump.drain()
    # Then the other side shows none of them
    assert replicas(harness, pair.lead) == {}
    assert replicas(harness, pair.receiver) == {}
    # When they are made public again (one with a new text), and the internal note made public
    for (role, kind), item in made.items():
        side = pair.lead if role == "lead" else pair.receiver
        changes = {"internal": False, **({"text": "Back again"} if kind == "note" else {})}
        edit(harness, side, item, changes)
    edit(harness, pair.receiver, secret, {"internal": False})
    harness.pump.drain()
    # Then they are back at their latest content, and the formerly internal note appears too
    assert_in_sync(pair)
    assert _texts(harness, pair.lead) >= {"Back again", "Was internal"}
    assert "Back again" in _texts(harness, pair.receiver)


def test_replicas_refuse_edits_and_deletes_on_both_sides(harness: Harness) -> None:
    # Given every kind of item from each side, synchronised
    pair = linked(harness)
    for side in _both(pair):
        for kind in KINDS:
            add(harness, side, kind)
        attach(harness, side)
    harness.pump.drain()
    before = snapshot(pair)
    # When each side tries to edit, hide or delete the other side's items
    for side in _both(pair):
        shown = replicas(harness, side)
        assert len(shown) == 4
        for replica in shown.values():
            path = f"{side.base}/{SEGMENTS[replica['kind']]}/{replica['item_id']}"
            for changes in (CHANGED_FIELDS[replica["kind"]], {"internal": True}):
                refused = harness.patch(path, side.tenant.key, changes)
                assert (refused.status_code, refused.error_code) == (409, "replica_read_only")
            refused = harness.delete(path, side.tenant.key)
            assert (refused.status_code, refused.error_code) == (409, "replica_read_only")
    harness.pump.drain()
    # Then nothing changed on either side
    assert snapshot(pair) == before


def test_amounts_travel_in_the_leads_currency_with_its_code(harness: Harness) -> None:
    # Given a lead pricing in EUR and a service partner whose own currency is USD
    pair = linked(harness, lead_currency="EUR", partner_currency="USD")
    # When each side adds a charge
    lead_charge = add(harness, pair.lead, "charge", unit_cost="10.5", unit_price="12.25")
    partner_charge = add(harness, pair.receiver, "charge", unit_cost="7", unit_price="9.1")
    harness.pump.drain()
    # Then the partner's work on the insourced ticket is priced in the lead's currency
    assert _ticket(harness, pair.receiver)["currency"] == "EUR"
    assert partner_charge["currency"] == "EUR"
    # And both charges arrive with their amounts and the currency code
    on_receiver = replicas(harness, pair.receiver)[
        replica_id(pair.outsourcing_id, lead_charge["item_id"])
    ]
    assert (on_receiver["unit_cost"], on_receiver["unit_price"], on_receiver["currency"]) == (
        "10.50",
        "12.25",
        "EUR",
    )
    on_lead = replicas(harness, pair.lead)[
        replica_id(pair.outsourcing_id, partner_charge["item_id"])
    ]
    assert (on_lead["unit_cost"], on_lead["unit_price"], on_lead["currency"]) == (
        "7.00",
        "9.10",
        "EUR",
    )


# -- attachments -------------------------------------------------------------------------------


def test_attachments_are_copied_as_files_under_the_other_tenants_own_prefix(
    harness: Harness,
) -> None:
    # Given an outsourcing in progress
    pair = linked(harness)
    # When each side uploads an attachment
    sent = {
        "lead": (attach(harness, pair.lead, b"wiring diagram", file_name="wiring.txt"), pair.lead),
        "receiver": (
            attach(harness, pair.receiver, b"photos of the rack", file_name="rack.txt"),
            pair.receiver,
        ),
    }
    harness.pump.drain()
    # Then the other side downloads the same content from its own copy
    for created, origin in sent.values():
        target = pair.other(origin)
        copy_id = replica_id(pair.outsourcing_id, created["attachment_id"])
        meta, content = download(harness, target, copy_id)
        assert (
            content
            == {"wiring.txt": b"wiring diagram", "rack.txt": b"photos of the rack"}[
                created["file_name"]
            ]
        )
        key = _key_of(meta["download_url"])
        assert key.startswith(f"{target.tenant.tenant_id}/{target.ticket_id}/")
        assert key in objects(harness, f"{target.tenant.tenant_id}/")
        assert meta["file_name"] == created["file_name"]
        assert meta["internal"] is (origin.role == "receiver")
    # When the lead deletes its attachment
    lead_attachment = sent["lead"][0]
    remove(harness, pair.lead, lead_attachment)
    harness.pump.drain()
    # Then the partner's copy and its file are gone too
    gone = replica_id(pair.outsourcing_id, lead_attachment["attachment_id"])
    assert gone not in replicas(harness, pair.receiver)
    assert not [k for k in objects(harness, f"{pair.receiver.tenant.tenant_id}/") if gone in k]


def test_an_attachment_synced_before_its_upload_is_copied_on_first_download(
    harness: Harness,
) -> None:
    # Given a lead attachment that reached the partner before its file was uploaded
    pair = linked(harness)
    content = b"late scan"
    created = attach(harness, pair.lead, content, file_name="scan.txt", uploaded=False)
    harness.pump.drain()
    copy_id = replica_id(pair.outsourcing_id, created["attachment_id"])
    assert copy_id in replicas(harness, pair.receiver)
    early = harness.get(f"{pair.receiver.base}/attachments/{copy_id}", pair.receiver.tenant.key)
    assert (early.status_code, early.error_code) == (409, "file_not_uploaded")
    # When the file is uploaded afterwards and the partner downloads it
    upload(created, content)
    meta, fetched = download(harness, pair.receiver, copy_id)
    # Then it gets the content from its own copy
    assert fetched == content
    key = _key_of(meta["download_url"])
    assert key.startswith(f"{pair.receiver.tenant.tenant_id}/")
    assert key in objects(harness, f"{pair.receiver.tenant.tenant_id}/")


# -- the ticket itself -------------------------------------------------------------------------


def test_lead_ticket_edits_reach_the_insourced_copy_and_partner_edits_stay_home(
    harness: Harness,
) -> None:
    # Given an outsourcing in progress
    pair = linked(harness, title="Switch down", description="Floor 2")
    # When the lead edits title, description, priority and complete-by
    changes = {
        "title": "Switch and router down",
        "description": "Floor 2 and 3",
        "priority": "critical",
        "complete_by": "2026-12-01T12:00:00Z",
    }
    assert harness.patch(pair.lead.base, pair.lead.tenant.key, changes).status_code == 200
    harness.pump.drain()
    # Then the insourced copy shows them
    lead_ticket = _ticket(harness, pair.lead)
    insourced = _ticket(harness, pair.receiver)
    for name in changes:
        assert insourced[name] == lead_ticket[name], name
    assert insourced["title"] == "Switch and router down"
    # When the partner edits its own copy
    own = {"title": "Our own wording", "priority": "low", "description": "Bring a ladder"}
    assert harness.patch(pair.receiver.base, pair.receiver.tenant.key, own).status_code == 200
    harness.pump.drain()
    # Then the lead ticket is untouched
    assert _ticket(harness, pair.lead) == lead_ticket
    assert _ticket(harness, pair.receiver)["title"] == "Our own wording"


# -- the lifecycle -----------------------------------------------------------------------------


def test_waiting_for_approval_suspends_sync_and_a_reject_catches_up(harness: Harness) -> None:
    # Given a note, time entry and charge on each side, synchronised
    pair = linked(harness)
    made = {(s.role, k): add(harness, s, k) for s in _both(pair) for k in KINDS}
    harness.pump.drain()
    # When the partner submits completion, and while waiting both sides add, edit and delete
    pair.act("submit-completion")
    harness.pump.drain()
    shown = {s.role: replicas(harness, s) for s in _both(pair)}
    for side in _both(pair):
        add(harness, side, "note", text=f"{side.role} while waiting")
        edit(harness, side, made[side.role, "time_entry"], CHANGED_FIELDS["time_entry"])
        remove(harness, side, made[side.role, "charge"])
    harness.pump.drain()
    # Then none of it reached the other side
    for side in _both(pair):
        assert replicas(harness, side) == shown[side.role]
    # When the lead rejects the completion
    pair.act("reject")
    harness.pump.drain()
    # Then everything written meanwhile is caught up, deletes included
    assert_in_sync(pair)
    assert "receiver while waiting" in _texts(harness, pair.lead)
    assert "lead while waiting" in _texts(harness, pair.receiver)
    assert all(i["kind"] != "charge" for i in replicas(harness, pair.lead).values())
    # And new items travel again
    add(harness, pair.receiver, "note", text="after the reject")
    harness.pump.drain()
    assert "after the reject" in _texts(harness, pair.lead)


@pytest.mark.parametrize("ending", ["approve", "recall"])
def test_after_the_work_ends_each_sides_additions_and_edits_stay_private(
    harness: Harness, ending: str
) -> None:
    # Given a note on each side, synchronised
    pair = linked(harness)
    notes = {s.role: add(harness, s, "note", text=f"{s.role} shared") for s in _both(pair)}
    harness.pump.drain()
    # When the work ends (approved after a submission, or recalled)
    if ending == "approve":
        pair.act("submit-completion")
    pair.act(ending)
    harness.pump.drain()
    shown = {s.role: replicas(harness, s) for s in _both(pair)}
    # And afterwards both sides edit their note and add a note and a time entry
    for side in _both(pair):
        edit(harness, side, notes[side.role], {"text": f"{side.role} edited later"})
        add(harness, side, "note", text=f"{side.role} later")
        add(harness, side, "time_entry")
    harness.pump.drain()
    # Then the other side still shows exactly what it had when the work ended
    for side in _both(pair):
        assert replicas(harness, side) == shown[side.role]


def test_public_lead_items_written_before_acceptance_are_brought_over_at_acceptance(
    harness: Harness,
) -> None:
    # Given a ticket with a public note written before it was outsourced
    pair = outsourced(harness)
    # And, while the partner has not accepted yet: public items, an internal one, an edited
    # one, a deleted one and one made public
    for kind in KINDS:
        add(harness, pair.lead, kind)
    add(harness, pair.lead, "note", internal=True, text="Customer pays late")
    draft = add(harness, pair.lead, "note", text="draft")
    edit(harness, pair.lead, draft, {"text": "final"})
    remove(harness, pair.lead, add(harness, pair.lead, "charge", name="Wrong charge"))
    edit(
        harness,
        pair.lead,
        add(harness, pair.lead, "note", internal=True, text="now public"),
        {"internal": False},
    )
    harness.pump.drain()
    # When the partner accepts
    pair.accept()
    harness.pump.drain()
    # Then exactly the public items are on the insourced ticket, at their latest content
    assert_in_sync(pair)
    assert _texts(harness, pair.receiver) == {"Checked the cabling", "final", "now public"}
    assert sorted(i["kind"] for i in items(harness, pair.receiver)) == [
        "charge",
        "note",
        "note",
        "note",
        "time_entry",
    ]


def test_at_completion_the_partners_time_becomes_exactly_one_non_billable_charge(
    harness: Harness,
) -> None:
    # Given an hourly outsourcing in progress with time on both sides
    pair = linked(harness, pricing={"type": "hourly", "amount": "80"})
    add(harness, pair.receiver, "time_entry", hours_worked="2.5")
    add(harness, pair.receiver, "time_entry", hours_worked="1.25")
    add(harness, pair.receiver, "time_entry", hours_worked="4", internal=True)
    remove(harness, pair.receiver, add(harness, pair.receiver, "time_entry", hours_worked="3"))
    add(harness, pair.lead, "time_entry", hours_worked="9")
    harness.pump.drain()
    # When the partner submits and the lead approves
    pair.act("submit-completion")
    pair.act("approve")
    harness.pump.drain()
    # Then the lead ticket has one cost charge with the partner's public, live time
    costs = [i for i in local_items(harness, pair.lead).values() if i["kind"] == "charge"]
    assert len(costs) == 1
    cost = costs[0]
    assert (cost["quantity"], cost["unit_cost"], cost["billable"]) == ("3.75", "80.00", False)
    # When the whole stream is replayed, twice
    replay_whole_stream(harness)
    replay_whole_stream(harness)
    # Then there is still exactly that one charge
    again = [i for i in local_items(harness, pair.lead).values() if i["kind"] == "charge"]
    assert again == [cost]


# -- guarantees --------------------------------------------------------------------------------


def _history(harness: Harness, pair: Pair) -> None:
    """Both sides add, edit, hide and delete items and upload files; the lead edits its ticket."""
    made = {(s.role, k): add(harness, s, k) for s in _both(pair) for k in KINDS}
    add(harness, pair.lead, "note", internal=True, text="Customer pays late")
    for side in _both(pair):
        edit(harness, side, made[side.role, "note"], CHANGED_FIELDS["note"])
        edit(harness, side, made[side.role, "time_entry"], {"internal": True})
        remove(harness, side, made[side.role, "charge"])
        attach(harness, side, f"{side.role} file".encode(), file_name=f"{side.role}.txt")
    _retitle(harness, pair, "Renamed")


def _retitle(harness: Harness, pair: Pair, title: str) -> None:
    reply = harness.patch(pair.lead.base, pair.lead.tenant.key, {"title": title})
    assert reply.status_code == 200, reply.body


def _state(pair: Pair) -> Any:
    """Everything sync may touch: both item lists, both tickets, every stored file."""
    harness = pair.harness
    return (
        snapshot(pair),
        _ticket(harness, pair.lead),
        _ticket(harness, pair.receiver),
        objects(harness),
    )


def test_replaying_any_batch_or_the_whole_stream_changes_nothing(harness: Harness) -> None:
    # Given a history on both sides, processed once by the real handler in batches of three
    pair = outsourced(harness)
    add(harness, pair.lead, "note", text="before acceptance")
    pair.accept()
    _history(harness, pair)
    recorder = RecordingHandler()
    StreamPump(streams_client(harness), harness.stream_arn, recorder, batch_size=3).drain()
    assert_in_sync(pair)
    state = _state(pair)
    # When every batch is delivered again, one at a time
    for batch in recorder.batches:
        deliver(batch)
    # Then nothing changed
    assert _state(pair) == state
    # When a fresh consumer replays the whole stream, twice
    replay_whole_stream(harness)
    replay_whole_stream(harness)
    # Then nothing changed either
    assert _state(pair) == state


def _item_key(record: dict[str, Any]) -> tuple[str, str]:
    keys = record["dynamodb"]["Keys"]
    return keys["pk"]["S"], keys["sk"]["S"]


@pytest.mark.parametrize("order", ["reversed", "newest_first"])
def test_an_older_change_never_overwrites_a_newer_one(harness: Harness, order: str) -> None:
    # Given an outsourcing in progress with a note, time entry and charge on each side, synced
    pair = linked(harness)
    made = {(s.role, k): add(harness, s, k) for s in _both(pair) for k in KINDS}
    harness.pump.drain()
    already = len(stream_records(harness))
    # And then several changes to each of them, and to the lead ticket, not processed yet
    for side in _both(pair):
        for n in range(3):
            edit(harness, side, made[side.role, "note"], {"text": f"{side.role} v{n}"})
        edit(harness, side, made[side.role, "time_entry"], {"internal": True})
        edit(harness, side, made[side.role, "time_entry"], {"internal": False, "summary": "x"})
        edit(harness, side, made[side.role, "charge"], {"quantity": "5"})
        remove(harness, side, made[side.role, "charge"])
        remove(harness, side, add(harness, side, "note", text="short-lived"))
    for title in ("First", "Second", "Third"):
        _retitle(harness, pair, title)
    fresh = stream_records(harness)[already:]
    # When the handler gets them out of order
    if order == "reversed":
        deliver(list(reversed(fresh)))
    else:  # each key's newest change first, then every change in order
        newest = {_item_key(r): r for r in fresh}
        deliver([*reversed(newest.values()), *fresh])
    # Then every replica shows its origin's newest version, and the copy the newest title
    assert_in_sync(pair)
    assert _texts(harness, pair.lead) >= {"receiver v2"}
    assert "lead v2" in _texts(harness, pair.receiver)
    assert _ticket(harness, pair.receiver)["title"] == "Third"


def test_nothing_echoes_back_to_its_origin(harness: Harness) -> None:
    # Given public and internal items of every kind on both sides
    pair = linked(harness)
    for side in _both(pair):
        for kind in KINDS:
            add(harness, side, kind)
        add(harness, side, "note", internal=True)
        attach(harness, side)
    # When the stream is processed, and then replayed by a fresh consumer
    harness.pump.drain()
    replay_whole_stream(harness)
    # Then each side holds its five items and one copy of each of the other's four public ones
    for side in _both(pair):
        own = local_items(harness, side)
        theirs = local_items(harness, pair.other(side))
        copies = replicas(harness, side)
        assert len(own) == 5
        assert len(copies) == 4
        public = [i for i in theirs if not theirs[i]["internal"]]
        assert set(copies) == {replica_id(pair.outsourcing_id, i) for i in public}
    # And no stored replica (hidden ones included) was made from another replica
    replica_records = [
        r["dynamodb"]["NewImage"]
        for r in stream_records(harness)
        if r["dynamodb"].get("NewImage", {}).get("origin", {}).get("S") == "partner"
    ]
    assert replica_records
    local_ids = set(local_items(harness, pair.lead)) | set(local_items(harness, pair.receiver))
    assert {img["origin_item_id"]["S"] for img in replica_records} <= local_ids


def test_a_failure_mid_batch_loses_nothing_and_duplicates_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given replica writes that fail once on: the first write (the catch-up at acceptance),
    # every note's first edit and every charge's delete; and a file copy that fails once
    real_put, real_copy = DynamoItemRepository.put_replica, S3FileStore.copy
    failed: set[object] = set()
    written = Counter[tuple[str, int | None]]()

    def fail_once(key: object) -> None:
        if key not in failed:
            failed.add(key)
            raise RuntimeError(f"transient failure at {key}")

    def flaky_put(self: DynamoItemRepository, replica: Item) -> bool:
        if not failed:
            fail_once("first write")
        if replica.kind is ItemKind.NOTE and replica.origin_version == 2:
            fail_once((replica.item_id, 2))
        if replica.kind is ItemKind.CHARGE and replica.deleted:
            fail_once((replica.item_id, "deleted"))
        done = real_put(self, replica)
        if done:
            written[replica.item_id, replica.origin_version] += 1
        return done

    def flaky_copy(self: S3FileStore, source: str, target: str) -> None:
        fail_once("first copy")
        real_copy(self, source, target)

    monkeypatch.setattr(DynamoItemRepository, "put_replica", flaky_put)
    monkeypatch.setattr(S3FileStore, "copy", flaky_copy)
    failures_before = harness.pump.stats.failures
    # When a lead note written before acceptance is caught up at acceptance, and then both
    # sides write a history, the stream processed with Lambda's retry semantics each time
    pair = outsourced(harness)
    add(harness, pair.lead, "note", text="before acceptance")
    pair.accept()
    harness.pump.drain()
    _history(harness, pair)
    harness.pump.drain()
    # Then all six failures happened; the five replica writes were retried by the stream, and
    # the failed file copy needed no retry: the copy is made on the replica's first download
    assert len(failed) == 6
    assert harness.pump.stats.failures - failures_before == 5
    assert harness.pump.stats.dead_lettered == 0
    # And each origin version was written once at most, and both sides are complete
    assert written
    assert max(written.values()) == 1
    assert_in_sync(pair)
    for side in _both(pair):
        other = pair.other(side)
        for item in local_items(harness, other).values():
            if item["kind"] == "attachment":
                copy_id = replica_id(pair.outsourcing_id, item["item_id"])
                assert download(harness, side, copy_id)[1] == f"{other.role} file".encode()
    # And the result equals a failure-free pass: replaying the whole stream changes nothing
    monkeypatch.setattr(DynamoItemRepository, "put_replica", real_put)
    monkeypatch.setattr(S3FileStore, "copy", real_copy)
    state = _state(pair)
    replay_whole_stream(harness)
    assert _state(pair) == state


def test_concurrent_edits_on_both_sides_converge(harness: Harness) -> None:
    # Given a note, time entry and charge on each side
    pair = outsourced(harness)
    pair.accept()
    made = {(s.role, k): add(harness, s, k) for s in _both(pair) for k in KINDS}
    # And a consumer that delivers one record at a time, interleaved with the writes
    pump = StreamPump(streams_client(harness), harness.stream_arn, on_table_change, batch_size=1)
    pump.drain()
    # When both sides keep editing their items while the stream is only partly processed
    for n in range(6):
        for side in _both(pair):
            kind = KINDS[n % 3]
            changes: dict[str, dict[str, Any]] = {
                "note": {"text": f"{side.role} note {n}"},
                "time_entry": {"hours_worked": f"{n + 1}.5", "internal": n == 1},
                "charge": {"quantity": str(n + 2)},
            }
            edit(harness, side, made[side.role, kind], changes[kind])
            for _ in range(n % 3 + (1 if side is pair.lead else 2)):
                pump.poll_once()
    # Then once the stream is drained, both sides agree on every item
    pump.drain()
    assert_in_sync(pair)
    lead_copies = replicas(harness, pair.lead)
    receiver_note = local_items(harness, pair.receiver)[made["receiver", "note"]["item_id"]]
    copy = lead_copies[replica_id(pair.outsourcing_id, receiver_note["item_id"])]
    assert (copy["text"], copy["version"]) == (receiver_note["text"], receiver_note["version"])


# -- known defects: the correct behaviour, expected to fail until fixed --------------------------


def test_replaying_the_stream_after_the_work_ended_changes_nothing(harness: Harness) -> None:
    # Given completed work, after which both sides added notes and the lead retitled its ticket
    pair = linked(harness)
    pair.act("submit-completion")
    pair.act("approve")
    harness.pump.drain()
    for side in _both(pair):
        add(harness, side, "note", text=f"{side.role} private")
    _retitle(harness, pair, "Closed internally")
    harness.pump.drain()
    state = _state(pair)
    # When a fresh consumer replays the whole stream
    replay_whole_stream(harness)
    # Then nothing changed: the private notes and the new title stayed home
    assert _state(pair) == state


def test_a_lagging_stream_still_keeps_items_written_while_waiting_at_home(
    harness: Harness,
) -> None:
    # Given an accepted outsourcing whose stream has not been processed yet
    pair = outsourced(harness)
    pair.accept()
    # When the partner submits completion, the lead writes a note, and only then the stream
    # catches up
    pair.act("submit-completion")
    add(harness, pair.lead, "note", text="while waiting")
    harness.pump.drain()
    # Then the note written while waiting has not reached the partner
    assert "while waiting" not in _texts(harness, pair.receiver)


def test_the_cost_charge_counts_only_time_written_before_completion(harness: Harness) -> None:
    # Given two hours of partner time, synchronised
    pair = linked(harness)
    add(harness, pair.receiver, "time_entry", hours_worked="2")
    harness.pump.drain()
    # When the work is approved and the partner adds three more hours before the stream runs
    pair.act("submit-completion")
    pair.act("approve")
    add(harness, pair.receiver, "time_entry", hours_worked="3")
    harness.pump.drain()
    # Then the cost charge holds the two hours of the completed work
    costs = [i for i in local_items(harness, pair.lead).values() if i["kind"] == "charge"]
    assert [c["quantity"] for c in costs] == ["2"]


def test_replaying_an_attachment_made_internal_since_copies_no_file_to_the_other_side(
    harness: Harness,
) -> None:
    # Given a lead attachment that travelled, and was then made internal
    pair = linked(harness)
    recorder = RecordingHandler()
    pump = StreamPump(streams_client(harness), harness.stream_arn, recorder)
    pump.drain()
    created = attach(harness, pair.lead, b"salary sheet", file_name="salaries.txt")
    pump.drain()
    upload_batches = list(recorder.batches)
    edit(harness, pair.lead, created, {"internal": True})
    pump.drain()
    partner_files = f"{pair.receiver.tenant.tenant_id}/"
    assert objects(harness, partner_files) == {}
    # When the batches of its upload are delivered again
    for batch in upload_batches:
        deliver(batch)
    # Then the partner's storage still holds no copy of it
    assert objects(harness, partner_files) == {}


def test_deleting_a_renamed_attachment_leaves_no_copy_on_the_other_side(
    harness: Harness,
) -> None:
    # Given a lead attachment that travelled, then was renamed
    pair = linked(harness)
    created = attach(harness, pair.lead, b"old plan", file_name="plan.txt")
    harness.pump.drain()
    edit(harness, pair.lead, created, {"file_name": "plan-v2.txt"})
    harness.pump.drain()
    # When the lead deletes it
    remove(harness, pair.lead, created)
    harness.pump.drain()
    # Then no copy of its file is left with the partner
    assert objects(harness, f"{pair.receiver.tenant.tenant_id}/") == {}
