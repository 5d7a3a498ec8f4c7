"""The repository contract against DynamoDB (moto and DynamoDB Local)."""

from __future__ import annotations

import pytest

from chalicelib.container import get_container
from chalicelib.ports import FeeRepository
from tests.integration.conftest import Harness
from tests.repository_contract import (
    FeeRepositoryContract,
    OutsourcingRepositoryContract,
    Repos,
)


class TestDynamoRepositories(OutsourcingRepositoryContract, FeeRepositoryContract):
    @pytest.fixture
    def fees(self, harness: Harness) -> FeeRepository:
        return get_container().fees

    @pytest.fixture
    def repos(self, harness: Harness) -> Repos:
        container = get_container()
        return Repos(
            tenants=container.tenants,
            keys=container.api_keys,
            tickets=container.tickets,
            items=container.items,
            idempotency=container.idempotency,
            invitations=container.invitations,
            partnerships=container.partnerships,
            outsourcings=container.outsourcings,
        )
