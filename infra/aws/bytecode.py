"""Compiled bytecode in the deployment package.

Lambda unpacks the package onto a read-only file system, so Python can neither find nor write a
``.pyc`` for it: every cold start would compile every module it imports (boto3, pydantic,
PynamoDB, Chalice, the service), which costs more than the import itself. ``make package``
therefore compiles ``deployment.zip`` ahead of time with the Lambda runtime's Python version,
as *unchecked-hash* ``.pyc`` files: they are used whatever the files' modification times after
unpacking (a timestamp ``.pyc`` would be checked against mtimes the zip does not keep exactly).

    python -m infra.aws.bytecode build/package/deployment.zip
"""

from __future__ import annotations

import compileall
import py_compile
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

RUNTIME = (3, 11)  # the functions' runtime (python3.11), which reads only its own .pyc files


def compile_package(package: Path) -> int:
    """Add an unchecked-hash ``.pyc`` beside every module in the zip; how many it holds."""
    if sys.version_info[:2] != RUNTIME:
        raise SystemExit(
            f"compile the package with Python {RUNTIME[0]}.{RUNTIME[1]} (the functions' runtime), "
            f"not {sys.version_info[0]}.{sys.version_info[1]}"
        )
    with tempfile.TemporaryDirectory() as work:
        tree = Path(work) / "tree"
        with zipfile.ZipFile(package) as zipped:
            zipped.extractall(tree)
            modes = {info.filename: info.external_attr for info in zipped.infolist()}
        compiled = compileall.compile_dir(
            str(tree),
            quiet=2,
            workers=1,
            force=True,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        if not compiled:
            raise SystemExit(f"some modules in {package} do not compile")
        rebuilt = Path(work) / package.name
        count = 0
        with zipfile.ZipFile(rebuilt, "w", zipfile.ZIP_DEFLATED) as out:
            for path in sorted(p for p in tree.rglob("*") if p.is_file()):
                name = path.relative_to(tree).as_posix()
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = modes.get(name, 0o644 << 16)
                info.compress_type = zipfile.ZIP_DEFLATED
                out.writestr(info, path.read_bytes())
                count += name.endswith(".pyc")
        shutil.move(rebuilt, package)
    return count


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m infra.aws.bytecode <deployment.zip>", file=sys.stderr)
        return 2
    count = compile_package(Path(argv[0]))
    print(f"bytecode: {count} compiled modules in {argv[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
