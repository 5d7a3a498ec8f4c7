"""E2E tier: the local stack started as a subprocess, driven over HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.harness import StackProcess, stack_environment, start_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackProcess]:
    """One default stack for the whole session (its own moto server, and DynamoDB Local when Java
    17 and the npm package are there); stopped and checked at the end."""
    state_dir = tmp_path_factory.mktemp("stack")
    running = start_stack(stack_environment(state_dir), state_dir / "output.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def tenant(stack: StackProcess) -> tuple[str, str]:
    """(tenant_id, api_key) of a tenant created by the operator."""
    return stack.create_tenant()
