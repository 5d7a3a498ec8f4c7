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

TABLE_KEY = frozenset({"pk", "sk"})
GSI1_KEY = frozenset({"pk", "sk", "gsi1pk", "gsi1sk"})


def test_cursors_round_trip_for_their_own_list() -> None:
    key = {"pk": {"S": "T#A#TK#1"}, "sk": {"S": "ITEM#2"}}
    encoded = cursor.encode(key)
    assert encoded is not None
    assert (
        cursor.decode(
            encoded, attributes=TABLE_KEY, expected={"pk": "T#A#TK#1"}, prefixes={"sk": "ITEM#"}
        )
        == key
    )
    assert cursor.encode(None) is None
    assert cursor.decode(None, attributes=TABLE_KEY, expected={"pk": "x"}) is None


def _forge(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


INDEX_CURSOR = {
    "gsi1pk": {"S": "T#A#TICKETS"},
    "gsi1sk": {"S": "2026-11-24T10:00:00Z"},
    "pk": {"S": "T#A#TK#1"},
    "sk": {"S": "TICKET"},
}


def _decode_index_cursor(value: Any) -> dict[str, Any] | None:
    return cursor.decode(
        _forge(value),
        attributes=GSI1_KEY,
        expected={"gsi1pk": "T#A#TICKETS", "sk": "TICKET"},
        prefixes={"pk": "T#A#TK#"},
    )


def test_an_index_cursor_with_exactly_the_index_key_is_accepted() -> None:
    # Given a cursor an index query returned (table key plus index key)
    # When it is decoded for that index
    decoded = _decode_index_cursor(INDEX_CURSOR)
    # Then it is the key as it was
    assert decoded == INDEX_CURSOR


@pytest.mark.parametrize(
    "forged",
    [
        pytest.param({**INDEX_CURSOR, "gsi2pk": {"S": "T#A#X"}}, id="extra attribute"),
        pytest.param({**INDEX_CURSOR, "version": {"S": "1"}}, id="extra non-key attribute"),
        pytest.param({k: v for k, v in INDEX_CURSOR.items() if k != "gsi1sk"}, id="no gsi1sk"),
        pytest.param({k: v for k, v in INDEX_CURSOR.items() if k != "pk"}, id="no pk"),
        pytest.param(
            {"pk": INDEX_CURSOR["pk"], "sk": INDEX_CURSOR["sk"]}, id="a table cursor for an index"
        ),
        pytest.param({**INDEX_CURSOR, "gsi1sk": {"N": "1"}}, id="number"),
        pytest.param({**INDEX_CURSOR, "gsi1sk": {"S": 1}}, id="S holding a number"),
        pytest.param({**INDEX_CURSOR, "gsi1sk": {"S": "a", "N": "1"}}, id="two types"),
        pytest.param({**INDEX_CURSOR, "gsi1sk": "plain"}, id="untyped"),
        pytest.param({**INDEX_CURSOR, "gsi1sk": {"S": "\ud800"}}, id="lone surrogate"),
        pytest.param({**INDEX_CURSOR, "gsi1pk": {"S": "T#B#TICKETS"}}, id="another tenant"),
        pytest.param({**INDEX_CURSOR, "pk": {"S": "T#B#TK#1"}}, id="another tenant's row"),
    ],
)
def test_an_index_cursor_without_exactly_the_index_key_is_a_validation_error(
    forged: dict[str, Any],
) -> None:
    # Given a forged index cursor
    # When it is decoded for the index
    with pytest.raises(ValidationError) as refused:
        _decode_index_cursor(forged)
    # Then it is refused, naming the cursor
    assert refused.value.field == "cursor"


def test_an_index_cursor_is_refused_by_a_table_list() -> None:
    # Given a cursor an index query returned
    forged = _forge(INDEX_CURSOR)
    # When a table list with the same partition and sort values decodes it
    # Then its extra attributes make it a validation error
    with pytest.raises(ValidationError):
        cursor.decode(forged, attributes=TABLE_KEY, expected={"pk": "T#A#TK#1", "sk": "TICKET"})


def test_expected_values_must_be_key_attributes_of_the_query() -> None:
    # Given an expectation on an attribute the query's key does not have
    # When a cursor is decoded with it
    # Then it is a programming error, whatever the cursor
    with pytest.raises(ValueError, match="key attributes"):
        cursor.decode(None, attributes=TABLE_KEY, expected={"gsi1pk": "T#A#TICKETS"})


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
        _forge({"pk": {"S": "T#A#TK#1"}, "sk": {"S": "ITEM#2"}, "gsi1pk": {"S": "x"}}),
    ],
)
def test_forged_cursors_are_a_validation_error(forged: str) -> None:
    with pytest.raises(ValidationError) as refused:
        cursor.decode(
            forged, attributes=TABLE_KEY, expected={"pk": "T#A#TK#1"}, prefixes={"sk": "ITEM#"}
        )
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
