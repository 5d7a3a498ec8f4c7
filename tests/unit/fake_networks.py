"""In-memory fakes of the network lane's ports (they pass tests/network_contract.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.domain.errors import ConflictError, NotFoundError
from chalicelib.domain.items import Attachment, Note
from chalicelib.domain.networks import FileLink, Network
from chalicelib.domain.outsourcing import Outsourcing
from chalicelib.ports import Page
from tests.unit.fakes import FakeItemRepository, FakeOutsourcingRepository


class FakeNetworkRepository:
    def __init__(self, outsourcings: FakeOutsourcingRepository, items: FakeItemRepository) -> None:
        self.entries: dict[tuple[str, str], Network] = {}
        self.outsourcings = outsourcings
        self.items = items
        self.links: dict[str, FileLink] = {}
        self.fail_next_write = False

    def add(self, network: Network) -> None:
        self.entries[(network.tenant_id, network.network_id)] = network

    def get(self, tenant_id: str, network_id: str) -> Network:
        try:
            return self.entries[(tenant_id, network_id)]
        except KeyError:
            raise NotFoundError("No such network.") from None

    def list(self, tenant_id: str, limit: int, cursor: str | None) -> Page[Network]:
        found = sorted(
            (n for (t, _), n in self.entries.items() if t == tenant_id),
            key=lambda n: n.network_id,
            reverse=True,
        )
        if cursor is not None:
            found = [n for n in found if n.network_id < cursor]
        page = found[:limit]
        more = len(found) > limit
        return Page(items=page, next_cursor=page[-1].network_id if more else None)

    def update(self, network: Network, changes: Mapping[str, Any]) -> Network:
        stored = self.get(network.tenant_id, network.network_id)
        if stored.version != network.version:
            raise ConflictError("changed", code="version_conflict")
        updated = dataclasses.replace(stored, **changes, version=stored.version + 1)
        self.add(updated)
        return updated

    def record_forward(self, lead_copy: Outsourcing, note: Note, links: Sequence[FileLink]) -> None:
        if self.fail_next_write:
            raise RuntimeError("the table is unavailable")
        self.outsourcings.copies[(lead_copy.owner_id, lead_copy.outsourcing_id)] = lead_copy
        self.outsourcings._count(lead_copy, lead_copy.status, None)
        self.items.add(note)
        for link in links:
            self.links[link.token_hash] = link


class FakeFileLinkRepository:
    def __init__(self, networks: FakeNetworkRepository, items: FakeItemRepository) -> None:
        self.networks = networks
        self.items = items

    def get(self, token_hash: str) -> FileLink | None:
        return self.networks.links.get(token_hash)

    def attachment(self, link: FileLink) -> Attachment | None:
        found = self.items.items.get((link.tenant_id, link.ticket_id, link.attachment_id))
        return found if isinstance(found, Attachment) else None
