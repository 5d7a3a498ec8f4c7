"""The deployment package ships compiled bytecode that Lambda's read-only unpacked code uses."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.infra.packaging import Package

TAG = f"cpython-{sys.version_info[0]}{sys.version_info[1]}"
UNCHECKED_HASH = 0b01  # PEP 552 flags: hash-based, source not checked


def _names(package: Package) -> set[str]:
    with zipfile.ZipFile(package.directory / "deployment.zip") as archive:
        return set(archive.namelist())


def test_every_module_has_an_unchecked_hash_pyc(package: Package) -> None:
    names = _names(package)
    modules = [n for n in names if n.endswith(".py")]
    assert len(modules) > 500  # the service and everything it imports
    missing = []
    with zipfile.ZipFile(package.directory / "deployment.zip") as archive:
        for module in modules:
            folder, _, file = module.rpartition("/")
            compiled = f"{folder + '/' if folder else ''}__pycache__/{file[:-3]}.{TAG}.pyc"
            if compiled not in names:
                missing.append(module)
                continue
            header = archive.read(compiled)[:8]
            assert int.from_bytes(header[4:8], "little") == UNCHECKED_HASH, compiled
    assert missing == []
    assert {"app.py", f"__pycache__/app.{TAG}.pyc"} <= names


def test_the_unpacked_package_imports_from_its_bytecode_alone(
    package: Package, tmp_path: Path
) -> None:
    # Given the package unpacked, with a service module's source made unusable
    with zipfile.ZipFile(package.directory / "deployment.zip") as archive:
        archive.extractall(tmp_path)
    (tmp_path / "chalicelib" / "domain" / "sync.py").write_text("raise SystemExit('source')\n")
    # When a fresh interpreter imports every handler with nothing but the package and nothing
    # writable, as Lambda does
    code = (
        f"import sys; sys.path.insert(0, {str(tmp_path)!r}); import app; "
        "print(app.app.app_name, callable(app.on_table_change), app.__cached__)"
    )
    result = subprocess.run(
        [sys.executable, "-S", "-B", "-c", code],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
    )
    # Then it ran from the shipped bytecode (the broken source was never read)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["outsourcing", "True"]
    assert result.stdout.strip().endswith(f"app.{TAG}.pyc")
