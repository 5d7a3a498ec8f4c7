"""Ports of the network lane: the Outsource Network list and the download links of forwarded
emails."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from chalicelib.domain.items import Attachment, Note
from chalicelib.domain.networks import FileLink, Network
from chalicelib.domain.outsourcing import Outsourcing
from chalicelib.ports.common import Page


class NetworkRepository(Protocol):
    def add(self, network: Network) -> None:
        """Store a new entry."""

    def get(self, tenant_id: str, network_id: str) -> Network:
        """The tenant's entry (strongly consistent); ``NotFoundError`` otherwise."""

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Network]:
        """The tenant's entries, newest first, one Query per page."""

    def update(self, network: Network, changes: Mapping[str, Any]) -> Network:
        """Apply ``changes`` if the entry is still at ``network.version``
        (``ConflictError(version_conflict)`` otherwise)."""

    def record_forward(self, lead_copy: Outsourcing, note: Note, links: Sequence[FileLink]) -> None:
        """In one transaction: the lead's outsourcing record (no receiver copy) and its status
        count, the note on the lead ticket, and the file links the email carried."""


class FileLinkRepository(Protocol):
    def get(self, token_hash: str) -> FileLink | None:
        """The link with that token hash (strongly consistent), or None."""

    def attachment(self, link: FileLink) -> Attachment | None:
        """The linked attachment as it is now (strongly consistent), or None if it is gone."""
