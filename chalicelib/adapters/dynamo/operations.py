"""The DynamoDB operations every repository shares: a labelled transaction, the version guard,
update actions from a change set, and one page of a list in exactly one Query."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.indexes import Index
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import cursor as cursors
from chalicelib.adapters.dynamo.connection import transaction_connection
from chalicelib.domain.errors import ConflictError
from chalicelib.ports import Page

T = TypeVar("T")
CONDITION_FAILED = "ConditionalCheckFailedException"
# Inside a cancelled transaction the same cause is reported without the suffix.
TX_CONDITION_FAILED = "ConditionalCheckFailed"
# Records built with this version, and updated with add_version_condition=False, get their version
# incremented without a condition. (With no version at all, PynamoDB would reset it to 1.)
UNGUARDED = 0


def condition_failed(exc: Exception) -> bool:
    """Whether a write failed because its condition (or one in its transaction) was false."""
    if getattr(exc, "cause_response_code", None) == CONDITION_FAILED:
        return True
    if isinstance(exc, TransactWriteError):
        reasons = exc.cancellation_reasons or []
        return any(r is not None and r.code == TX_CONDITION_FAILED for r in reasons)
    return False


class Transaction:
    """``TransactWrite`` that knows which operation is which.

    PynamoDB sends a transaction's puts before its updates, whatever order they were added in;
    this keeps a label per operation in that same order, so a cancellation reason can be traced
    to the operation whose condition failed.
    """

    def __init__(self) -> None:
        self._tx = TransactWrite(connection=transaction_connection())
        self._puts: list[str] = []
        self._updates: list[str] = []

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            with self._tx:
                pass  # commits on leaving

    def save(self, model: Model, condition: Any = None, *, label: str = "") -> None:
        self._tx.save(model, condition=condition)
        self._puts.append(label)

    def update(
        self,
        model: Model,
        actions: list[Action],
        condition: Any = None,
        *,
        guard_version: bool = False,
        label: str = "",
    ) -> None:
        """An update; ``guard_version`` also requires the record's version to match."""
        self._tx.update(
            model, actions=list(actions), condition=condition, add_version_condition=guard_version
        )
        self._updates.append(label)

    def failed(self, exc: TransactWriteError, label: str) -> bool:
        """Whether the condition of the operation(s) labelled ``label`` failed."""
        order = self._puts + self._updates
        reasons = exc.cancellation_reasons or []
        return any(
            reason is not None and reason.code == TX_CONDITION_FAILED and order[index] == label
            for index, reason in enumerate(reasons)
            if index < len(order)
        )


@contextmanager
def version_guard(what: str) -> Iterator[None]:
    """Turn a lost optimistic-concurrency race into ``ConflictError(version_conflict)``."""
    try:
        yield
    except (PutError, UpdateError, DeleteError, TransactWriteError) as exc:
        if condition_failed(exc):
            raise ConflictError(
                f"The {what} was changed by someone else; try again.", code="version_conflict"
            ) from exc
        raise


def storable(value: Any) -> Any:
    """Domain values (enums) in the form plain string attributes store."""
    return value.value if isinstance(value, enum.Enum) else value


def set_actions(model: type[Model], changes: Mapping[str, Any]) -> list[Action]:
    """SET for each changed attribute, REMOVE for each one changed to None."""
    attributes = model.get_attributes()
    actions: list[Action] = []
    for name, value in changes.items():
        attribute = attributes[name]
        actions.append(attribute.remove() if value is None else attribute.set(value))
    return actions


@dataclass(frozen=True, slots=True)
class ListQuery(Generic[T]):
    """One list: what to query, how to turn its records into domain objects, and which cursor
    values belong to it (a cursor is only accepted back for the same list)."""

    query: Callable[..., Any]
    hash_value: str
    record_type: type[Model]
    to_domain: Callable[[Any], T]
    expected: dict[str, str]
    prefixes: dict[str, str]
    range_key_condition: Any = None
    filter_condition: Any = None
    newest_first: bool = False
    # A read that decides what travels must see every write before it (the table only; an
    # index is always eventually consistent).
    consistent: bool = False

    @property
    def key_attributes(self) -> frozenset[str]:
        """What this Query's LastEvaluatedKey holds, so its cursor must hold exactly that: the
        table's key attributes, and for a query on an index that index's too."""
        owner = getattr(self.query, "__self__", None)
        if isinstance(owner, Index):
            table, index = owner._model, owner.Meta.attributes.values()
        elif isinstance(owner, type) and issubclass(owner, Model):
            table, index = owner, []
        else:
            raise TypeError("ListQuery.query must be a Model's or an Index's query")
        keys = [*table.get_attributes().values(), *index]
        return frozenset(a.attr_name for a in keys if a.is_hash_key or a.is_range_key)

    def page(self, limit: int, cursor: str | None) -> Page[T]:
        """One page: exactly one Query (on the table or an index)."""
        start = cursors.decode(
            cursor,
            attributes=self.key_attributes,
            expected=self.expected,
            prefixes=self.prefixes,
        )
        result = self.query(
            self.hash_value,
            self.range_key_condition,
            filter_condition=self.filter_condition,
            consistent_read=self.consistent,
            scan_index_forward=not self.newest_first,
            limit=limit,
            last_evaluated_key=start,
        )
        records = list(result)
        return Page(
            items=[self.to_domain(r) for r in records if isinstance(r, self.record_type)],
            next_cursor=cursors.encode(result.last_evaluated_key),
        )
