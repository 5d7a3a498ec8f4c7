"""The network lane's repositories' contract against DynamoDB (moto and DynamoDB Local)."""

from __future__ import annotations

import pytest

from chalicelib.container import get_container
from tests.integration.conftest import Harness
from tests.network_contract import NetworkRepos, NetworkRepositoryContract


class TestDynamoNetworkRepositories(NetworkRepositoryContract):
    @pytest.fixture
    def repos(self, harness: Harness) -> NetworkRepos:
        container = get_container()
        ports = container.network_ports
        return NetworkRepos(
            networks=ports.networks,
            links=ports.links.repository,
            outsourcings=container.outsourcings,
            items=container.items,
        )
