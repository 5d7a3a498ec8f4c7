"""Pure domain rules."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from chalicelib.domain.attachments import UploadPolicy, storage_name
from chalicelib.domain.clock import utcnow
from chalicelib.domain.errors import (
    ConflictError,
    PermissionDeniedError,
    TooLargeError,
    ValidationError,
)
from chalicelib.domain.events import ItemChanged
from chalicelib.domain.ids import derived_id, is_id, new_id
from chalicelib.domain.items import ItemKind, Note, Origin, check_changes, ensure_writable
from chalicelib.domain.money import canonical, format_amount
from chalicelib.domain.tenants import Permission, require_permission
from chalicelib.domain.tickets import format_ticket_number

LEVELS = [Permission.NONE, Permission.OUTSOURCE, Permission.PARTNER_MANAGEMENT, Permission.ALL]


@pytest.mark.parametrize("held", LEVELS)
@pytest.mark.parametrize("required", LEVELS)
def test_each_permission_level_includes_exactly_the_lower_ones(
    held: Permission, required: Permission
) -> None:
    allowed = LEVELS.index(held) >= LEVELS.index(required)
    assert held.includes(required) is allowed
    if allowed:
        require_permission(held, required)
    else:
        with pytest.raises(PermissionDeniedError):
            require_permission(held, required)


def test_ids_sort_in_creation_order_even_within_a_millisecond() -> None:
    made = [new_id() for _ in range(2000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(is_id(i) for i in made)


@pytest.mark.parametrize("value", ["", "abc", "01hxxxxxxxxxxxxxxxxxxxxxxx", "0" * 25, "U" * 26])
def test_malformed_ids_are_not_ids(value: str) -> None:
    assert not is_id(value)


def test_derived_ids_are_stable_and_sort_with_their_source() -> None:
    source = new_id()
    first = derived_id(source, "outsourcing-1", "item-1")
    assert first == derived_id(source, "outsourcing-1", "item-1")
    assert first != derived_id(source, "outsourcing-2", "item-1")
    assert first[:10] == source[:10]
    assert is_id(first)


def test_ticket_numbers_are_dated_and_zero_padded() -> None:
    assert format_ticket_number(date(2026, 1, 5), 7) == "T20260105.0007"
    assert format_ticket_number(date(2026, 1, 5), 12345) == "T20260105.12345"


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("40", 2, "40.00"),
        ("40.00", 2, "40.00"),
        ("12.3400", 2, "12.34"),
        ("0.0001", 2, "0.0001"),
        ("1E+2", 2, "100.00"),
        ("3", 0, "3"),
        ("2.50", 0, "2.5"),
    ],
)
def test_amounts_have_one_canonical_form(value: str, places: int, expected: str) -> None:
    assert format_amount(Decimal(value), places) == expected
    assert canonical(Decimal(value), places) == Decimal(value)


def test_upload_policy_refuses_large_and_unknown_files() -> None:
    policy = UploadPolicy(max_bytes=100, content_types=frozenset({"text/plain"}))
    policy.check("text/plain", 100)
    policy.check("TEXT/PLAIN", 1)
    with pytest.raises(TooLargeError):
        policy.check("text/plain", 101)
    with pytest.raises(ValidationError) as bad_type:
        policy.check("application/x-msdownload", 1)
    assert bad_type.value.field == "content_type"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.pdf", "report.pdf"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("Bericht für März.docx", "Bericht fur Marz.docx"),
        ('a"b;c\r\n.txt', "a_b_c__.txt"),
        ("...", "file"),
        ("x" * 300, "x" * 120),
    ],
)
def test_storage_names_are_safe(name: str, expected: str) -> None:
    assert storage_name(name) == expected


def _note(**fields: object) -> Note:
    now = utcnow()
    base = {
        "tenant_id": new_id(),
        "ticket_id": new_id(),
        "item_id": new_id(),
        "text": "t",
        "created_at": now,
        "updated_at": now,
    }
    return Note(**{**base, **fields})  # type: ignore[arg-type]


def test_replicas_are_read_only_and_local_items_are_not() -> None:
    ensure_writable(_note())
    with pytest.raises(ConflictError) as refused:
        ensure_writable(_note(origin=Origin.PARTNER))
    assert refused.value.code == "replica_read_only"


def test_patch_changes_are_checked_per_kind() -> None:
    check_changes(ItemKind.TIME_ENTRY, {"work_type": None, "hours_worked": Decimal(1)})
    with pytest.raises(ValidationError) as null:
        check_changes(ItemKind.NOTE, {"text": None})
    assert null.value.field == "text"
    with pytest.raises(ValidationError) as foreign:
        check_changes(ItemKind.NOTE, {"quantity": 1})
    assert foreign.value.field == "quantity"


def test_deleted_now_is_true_only_for_the_deleting_change() -> None:
    live = _note()
    tombstone = _note(item_id=live.item_id, deleted=True)
    assert ItemChanged(before=None, after=live).deleted_now is False
    assert ItemChanged(before=live, after=tombstone).deleted_now is True
    assert ItemChanged(before=tombstone, after=tombstone).deleted_now is False
    assert ItemChanged(before=live, after=None).deleted_now is True
    assert ItemChanged(before=tombstone, after=None).deleted_now is False
