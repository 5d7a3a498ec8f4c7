"""The portal repositories' contract against the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.portal_contract import PortalRepos, PortalRepositoryContract
from tests.unit.fakes import (
    FakePortalUserRepository,
    FakeSessionStore,
    FakeSignInThrottle,
    FakeSubcontractorRepository,
)


class TestFakePortalRepositories(PortalRepositoryContract):
    @pytest.fixture
    def repos(self) -> PortalRepos:
        users = FakePortalUserRepository()
        return PortalRepos(
            subcontractors=FakeSubcontractorRepository(users),
            users=users,
            sessions=FakeSessionStore(),
            throttle=FakeSignInThrottle(),
        )
