"""Fixtures of the infra tier: one ``chalice package`` run per session (per xdist worker)."""

from __future__ import annotations

import pytest

from tests.infra.packaging import Package, build_package


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    return build_package(tmp_path_factory.mktemp("package") / "build")
