"""The repository contract against the in-memory fakes."""

from __future__ import annotations

import pytest

from chalicelib.ports import FeeRepository
from tests.repository_contract import (
    FeeRepositoryContract,
    OutsourcingRepositoryContract,
    Repos,
)
from tests.unit.fakes import (
    FakeApiKeyRepository,
    FakeFeeRepository,
    FakeIdempotencyStore,
    FakeInvitationRepository,
    FakeItemRepository,
    FakeOutsourcingRepository,
    FakePartnershipRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)


class TestFakeRepositories(OutsourcingRepositoryContract, FeeRepositoryContract):
    @pytest.fixture
    def fees(self) -> FeeRepository:
        return FakeFeeRepository()

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
