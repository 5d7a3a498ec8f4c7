"""The change log's contract on the in-memory fake."""

from __future__ import annotations

import pytest

from chalicelib.domain.ids import new_id
from tests.change_contract import ChangeLogContract, LogUnderTest
from tests.unit.change_fakes import FakeChangeLog


class TestFakeChangeLog(ChangeLogContract):
    @pytest.fixture
    def under_test(self) -> LogUnderTest:
        tenant_id, other = new_id(), new_id()
        return LogUnderTest(FakeChangeLog({tenant_id, other}), tenant_id, other, True)
