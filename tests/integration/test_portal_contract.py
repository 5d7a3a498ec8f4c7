"""The portal repositories' contract against DynamoDB (moto and DynamoDB Local)."""

from __future__ import annotations

import pytest

from chalicelib.container import get_container
from tests.integration.conftest import Harness
from tests.portal_contract import PortalRepos, PortalRepositoryContract


class TestDynamoPortalRepositories(PortalRepositoryContract):
    @pytest.fixture
    def repos(self, harness: Harness) -> PortalRepos:
        ports = get_container().portal_ports
        return PortalRepos(
            subcontractors=ports.subcontractors,
            users=ports.users,
            sessions=ports.sessions,
            throttle=ports.throttle,
        )
