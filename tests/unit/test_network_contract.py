"""The network lane's repositories' contract against the in-memory fakes."""

from __future__ import annotations

import pytest

from tests.network_contract import NetworkRepos, NetworkRepositoryContract
from tests.unit.fake_networks import FakeFileLinkRepository, FakeNetworkRepository
from tests.unit.fakes import FakeItemRepository, FakeOutsourcingRepository, FakeTicketRepository


class TestFakeNetworkRepositories(NetworkRepositoryContract):
    @pytest.fixture
    def repos(self) -> NetworkRepos:
        items = FakeItemRepository()
        outsourcings = FakeOutsourcingRepository(FakeTicketRepository(), items)
        networks = FakeNetworkRepository(outsourcings, items)
        return NetworkRepos(
            networks=networks,
            links=FakeFileLinkRepository(networks, items),
            outsourcings=outsourcings,
            items=items,
        )
