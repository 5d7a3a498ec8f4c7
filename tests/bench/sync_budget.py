"""Requests one synchronized note costs, end to end, counted on the app's DynamoDB client (the
change feed's own requests are counted apart: ``feed_budget``)."""

from __future__ import annotations

Row = tuple[str, str, str, str]


def note_budget(notes: int = 20) -> list[Row]:
    """Average DynamoDB requests per synced note: the API write, then the stream reaction."""
    from tests.bench.costs import bench_world
    from tests.bench.counting import count_dynamodb

    with bench_world("bench-sync") as harness:
        pump = harness.pump
        lead, partner = harness.create_tenant("Lead"), harness.create_tenant("Partner")
        partnership = harness.partner(lead, partner)
        ticket = harness.create_ticket(lead, title="Bench")["ticket_id"]
        outsourcing = harness.outsource(lead, ticket, partnership)["outsourcing_id"]
        accepted = harness.post(f"/v1/outsourcings/{outsourcing}/accept", partner.key)
        assert accepted.status_code < 300, accepted.body
        pump.drain()
        harness.get("/v1/tenant", lead.key)  # the key is verified once, then cached

        api_reads = api_writes = react_reads = react_writes = scans = 0
        for n in range(notes):
            with count_dynamodb() as api:
                reply = harness.post(f"/v1/tickets/{ticket}/notes", lead.key, {"text": f"note {n}"})
                assert reply.status_code == 201, reply.body
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
