"""The change log's contract on DynamoDB (moto and DynamoDB Local; racing writers on DynamoDB
Local only, which serialises conditional writes as DynamoDB does)."""

from __future__ import annotations

import pytest

from chalicelib.container import get_container
from tests.change_contract import ChangeLogContract, LogUnderTest
from tests.integration.conftest import Harness


class TestDynamoChangeLog(ChangeLogContract):
    @pytest.fixture
    def under_test(self, harness: Harness) -> LogUnderTest:
        tenant, other = harness.create_tenant(), harness.create_tenant()
        return LogUnderTest(
            get_container().change_ports.log,
            tenant.tenant_id,
            other.tenant_id,
            serialises_writes=harness.backend == "dynamodb-local",
        )
