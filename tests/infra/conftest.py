"""Fixtures of the infra tier: one ``chalice package`` run per test session, shared by workers."""

from __future__ import annotations

import os

import pytest

from tests.infra.packaging import Package, build_package, shared_package


@pytest.fixture(scope="session")
def package(tmp_path_factory: pytest.TempPathFactory) -> Package:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run is None:  # a run without xdist: this process is the only builder
        return build_package(tmp_path_factory.mktemp("package") / "build")
    return shared_package(tmp_path_factory.getbasetemp().parent / f"package-{run}")
