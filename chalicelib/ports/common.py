"""Ports every part of the service shares: pages of lists, idempotency, files, email, the
stream and its dead letters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a list and the opaque cursor of the next one (None at the end)."""

    items: Sequence[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Paging:
    """Which page of a list: at most ``limit`` entries after the opaque ``cursor``."""

    limit: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: Any
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    response: StoredResponse | None  # None while the first request is still running


class IdempotencyStore(Protocol):
    def begin(self, tenant_id: str, key: str, fingerprint: str) -> IdempotencyRecord | None:
        """Claim ``key``; returns None when claimed now, or the existing record. A claim whose
        request never finished (a crash) lapses after the store's lease: the same request may
        then claim it again."""

    def finish(self, tenant_id: str, key: str, response: StoredResponse) -> None:
        """Store the first result for later repeats."""

    def abandon(self, tenant_id: str, key: str) -> None:
        """Release a claim whose request failed unexpectedly, so a retry can run."""


@dataclass(frozen=True, slots=True)
class PresignedUpload:
    url: str
    fields: Mapping[str, str]
    expires_at: datetime


class FileStore(Protocol):
    def presign_upload(
        self, key: str, content_type: str, size: int, expires_in: int
    ) -> PresignedUpload:
        """A browser-usable POST that accepts exactly one object of that type and size."""

    def presign_download(self, key: str, file_name: str, expires_in: int) -> str:
        """A time-limited GET URL for the object, downloading under ``file_name``."""

    def delete(self, key: str) -> None:
        """Delete the object; deleting a missing object is not an error."""

    def copy(self, source_key: str, target_key: str) -> None:
        """Copy an object within the store; ``FileNotFoundError`` if the source is missing."""

    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""


@dataclass(frozen=True, slots=True)
class Email:
    to: Sequence[str]
    subject: str
    text: str
    html: str | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A stream batch that failed every retry: where it is in the stream, not its records."""

    receipt: str
    stream_arn: str
    shard_id: str
    first_sequence_number: str
    last_sequence_number: str


class DeadLetterQueue(Protocol):
    def receive(self, max_messages: int) -> Sequence[DeadLetter]:
        """Take up to ``max_messages`` dead letters (they reappear unless deleted)."""

    def delete(self, letter: DeadLetter) -> None:
        """Remove a dead letter whose batch has now been processed."""


@dataclass(frozen=True, slots=True)
class StreamRead:
    """What reading a dead letter's range found.

    ``status`` is one of:
    - ``complete``: every record of the range (or up to a closed shard's end), in order, at
      least one;
    - ``trimmed``: the stream no longer holds the range (past retention, stream or shard gone);
    - ``incomplete``: the range could not be read to its end (``records`` is what was read).
    ``reason`` says why a read is not complete, in a word (e.g. the AWS error code).
    """

    COMPLETE = "complete"
    TRIMMED = "trimmed"
    INCOMPLETE = "incomplete"

    status: str
    records: Sequence[dict[str, Any]] = ()
    reason: str = ""


class StreamReader(Protocol):
    def read(self, stream_arn: str, shard_id: str, first: str, last: str) -> StreamRead:
        """Records ``first``..``last`` (sequence numbers, inclusive) of a shard, shaped like a
        Lambda stream event's records, and whether the stream still held all of them."""


class MailRejectedError(Exception):
    """The mail service refused the email for good (a bad or unverified address, a rejected
    message): sending it again would fail again."""


class MailNotSentError(Exception):
    """The mail service did not take the email (throttled, unavailable, unreachable): it was
    certainly not sent, and may be sent later."""


class Mailer(Protocol):
    def send(self, email: Email) -> None:
        """Send one email. Raises ``MailRejectedError`` or ``MailNotSentError`` when it is
        certainly not sent; any other error leaves it unknown (it may have been sent)."""


class MailQuota(Protocol):
    def take(self, tenant_id: str, day: date, limit: int) -> bool:
        """Count one outbound email of the tenant on that (UTC) day, unless ``limit`` were
        counted already: then count nothing and return False. Atomic: racing senders never
        pass the limit together."""
