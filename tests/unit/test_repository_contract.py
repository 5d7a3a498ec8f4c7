"""The repository contract against the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.repository_contract import OutsourcingRepositoryContract, Repos
from tests.unit.fakes import (
    FakeApiKeyRepository,
    FakeIdempotencyStore,
    FakeInvitationRepository,
    FakeItemRepository,
    FakeOutsourcingRepository,
    FakePartnershipRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)


class TestFakeRepositories(OutsourcingRepositoryContract):
    @pytest.fixture
    def repos(self) -> Repos:
        keys = FakeApiKeyRepository()
        partnerships = FakePartnershipRepository()
        tickets, items = FakeTicketRepository(), FakeItemRepository()
        return Repos(
            tenants=FakeTenantRepository(keys),
            keys=keys,
            tickets=tickets,
            items=items,
            idempotency=FakeIdempotencyStore(),
            invitations=FakeInvitationRepository(partnerships),
            partnerships=partnerships,
            outsourcings=FakeOutsourcingRepository(tickets, items),
        )
