"""The HTTP and stream edges' own logic: cursors, request parsing, error shapes, dispatch."""

from __future__ import annotations

import base64
import json
from typing import Any

import pydantic
import pytest

from chalicelib.adapters.dynamo import cursor
from chalicelib.api.errors import error_response, rewrite_chalice_error
from chalicelib.api.models.tickets import TicketCreate
from chalicelib.api.routing import parse_body, pydantic_error
from chalicelib.domain.errors import ConflictError, NotFoundError, ValidationError
from chalicelib.domain.events import ItemChanged, TicketChanged
from chalicelib.streams.dispatcher import Dispatcher, process_batch
from infra.local.lambda_context import lambda_context
from tests.unit.stream_events import StreamEventBuilder


def test_cursors_round_trip_for_their_own_list() -> None:
    key = {"pk": {"S": "T#A#TK#1"}, "sk": {"S": "ITEM#2"}}
    encoded = cursor.encode(key)
    assert encoded is not None
    assert cursor.decode(encoded, expected={"pk": "T#A#TK#1"}, prefixes={"sk": "ITEM#"}) == key
    assert cursor.encode(None) is None
    assert cursor.decode(None, expected={"pk": "x"}) is None


def _forge(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "forged",
    [
        "",
        "%%%",
        "a" * 2000,
        _forge([1, 2]),
        _forge({"pk": {"S": "T#B#TK#1"}, "sk": {"S": "ITEM#2"}}),
        _forge({"pk": {"S": "T#A#TK#1"}, "sk": {"S": "KEY#2"}}),
        _forge({"pk": {"N": "1"}, "sk": {"S": "ITEM#2"}}),
        _forge({"pk": {"S": "T#A#TK#1"}}),
        _forge({"pk": {"S": "T#A#TK#1"}, "sk": {"S": ""}}),
    ],
)
def test_forged_cursors_are_a_validation_error(forged: str) -> None:
    with pytest.raises(ValidationError) as refused:
        cursor.decode(forged, expected={"pk": "T#A#TK#1"}, prefixes={"sk": "ITEM#"})
    assert refused.value.field == "cursor"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "title"),
        (b"{", "body"),
        (b"[]", "body"),
        (b'{"title": "x", "extra": 1}', "extra"),
        (b'{"title": 1}', "title"),
        (b'{"title": "x", "complete_by": "soon"}', "complete_by"),
    ],
)
def test_bodies_are_validated_with_the_field_named(raw: bytes, field: str) -> None:
    with pytest.raises(ValidationError) as refused:
        parse_body(TicketCreate, raw)
    assert refused.value.field == field


def test_a_route_without_a_body_refuses_one() -> None:
    assert parse_body(None, b"  ") is None
    with pytest.raises(ValidationError):
        parse_body(None, b'{"a": 1}')


def test_nested_pydantic_errors_name_the_path() -> None:
    class Inner(pydantic.BaseModel):
        amount: int

    class Outer(pydantic.BaseModel):
        terms: Inner

    with pytest.raises(pydantic.ValidationError) as raised:
        Outer.model_validate({"terms": {"amount": "x"}})
    assert pydantic_error(raised.value).field == "terms.amount"


def test_domain_errors_map_to_status_and_shape() -> None:
    response = error_response(ConflictError("nope", code="invalid_transition"))
    assert response.status_code == 409
    assert response.body == {"error": {"code": "invalid_transition", "message": "nope"}}
    assert error_response(NotFoundError("x")).status_code == 404


def test_chalice_errors_are_rewritten_into_the_shape() -> None:
    from chalice.app import Response

    rewritten = rewrite_chalice_error(
        Response(body={"Code": "UnsupportedMediaType", "Message": "bad"}, status_code=415)
    )
    assert rewritten.body["error"]["code"] == "unsupported_media_type"
    assert "application/json" in rewritten.body["error"]["message"]
    internal = rewrite_chalice_error(
        Response(body={"Code": "InternalServerError", "Message": "trace"}, status_code=500)
    )
    assert "trace" not in json.dumps(internal.body)
    ok = Response(body={"Code": "x", "Message": "y"}, status_code=200)
    assert rewrite_chalice_error(ok) is ok


def test_dispatch_routes_events_by_type() -> None:
    events = StreamEventBuilder()
    seen: list[Any] = []
    dispatcher = Dispatcher({ItemChanged: [seen.append], TicketChanged: [seen.append]})
    batch = events.batch(
        events.note_inserted("n1"),
        events.ticket_inserted("t1"),
        events.other_record(),
    )
    response = process_batch(batch, lambda_context("table_stream"), dispatcher)
    assert response == {"batchItemFailures": []}
    assert [type(e).__name__ for e in seen] == ["ItemChanged", "TicketChanged"]


def test_the_first_failure_holds_back_the_rest_of_the_batch() -> None:
    events = StreamEventBuilder()
    applied: list[str] = []

    def react(event: ItemChanged) -> None:
        if event.current.item_id == events.item_id("bad"):
            raise RuntimeError("boom")
        applied.append(event.current.item_id)

    batch = events.batch(
        events.note_inserted("ok1"), events.note_inserted("bad"), events.note_inserted("ok2")
    )
    response = process_batch(
        batch, lambda_context("table_stream"), Dispatcher({ItemChanged: [react]})
    )
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [r["dynamodb"]["SequenceNumber"] for r in batch["Records"][1:]]
    assert applied == [events.item_id("ok1")]


def test_an_entirely_failed_batch_is_reported_not_raised() -> None:
    events = StreamEventBuilder()

    def react(event: ItemChanged) -> None:
        raise RuntimeError("down")

    batch = events.batch(events.note_inserted("a"), events.note_inserted("b"))
    response = process_batch(
        batch, lambda_context("table_stream"), Dispatcher({ItemChanged: [react]})
    )
    assert len(response["batchItemFailures"]) == 2
