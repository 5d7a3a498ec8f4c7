"""The repository contract against the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.repository_contract import Repos, SyncRepositoryContract
from tests.unit.fakes import (
    FakeApiKeyRepository,
    FakeIdempotencyStore,
    FakeInvitationRepository,
    FakeItemRepository,
    FakePartnershipRepository,
    FakeTenantRepository,
    FakeTicketRepository,
)


class TestFakeRepositories(SyncRepositoryContract):
    @pytest.fixture
    def repos(self) -> Repos:
        keys = FakeApiKeyRepository()
        partnerships = FakePartnershipRepository()
        return Repos(
            tenants=FakeTenantRepository(keys),
            keys=keys,
            tickets=FakeTicketRepository(),
            items=FakeItemRepository(),
            idempotency=FakeIdempotencyStore(),
            invitations=FakeInvitationRepository(partnerships),
            partnerships=partnerships,
        )
