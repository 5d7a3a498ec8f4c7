"""The layout rules a newcomer relies on: small modules, literal routes, dependencies one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import app  # noqa: F401 - registers every route
from chalicelib.api.routing import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"
MODULES = sorted(PACKAGE.rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_longer_than_500_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 500


def test_every_route_path_is_written_out_in_its_decorator() -> None:
    # Paths built in loops or with f-strings cannot be found by searching for them.
    sources = "".join(p.read_text() for p in (PACKAGE / "api").glob("*.py"))
    missing = [spec.path for spec in REGISTRY if f'"{spec.path}"' not in sources]
    assert not missing
    assert len({(spec.method, spec.path) for spec in REGISTRY}) == len(REGISTRY)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("domain", ("chalicelib.service", "chalicelib.adapters", "chalicelib.api", "boto3")),
        ("service", ("chalicelib.adapters", "chalicelib.api", "chalicelib.streams", "boto3")),
        ("adapters", ("chalicelib.service", "chalicelib.api", "chalicelib.streams")),
    ],
)
def test_dependencies_point_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    offending = {
        str(path.relative_to(ROOT)): sorted(
            name for name in _imports(path) if name.startswith(forbidden)
        )
        for path in (PACKAGE / layer).rglob("*.py")
    }
    assert {path: names for path, names in offending.items() if names} == {}
