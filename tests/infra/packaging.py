"""The deployment package, built once per test session and shared by the infra modules.

``chalice package --stage prod --merge-template infra/aws/resources.json`` (as ``make package``)
writes ``sam.json`` and ``deployment.zip``, whose modules are then compiled (``infra.aws.bytecode``,
as ``make package`` does); the template tests, the alarm tests and the deploy
rehearsal all read the same build.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.aws.bytecode import compile_package

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MERGE_TEMPLATE = ROOT / "infra" / "aws" / "resources.json"


@dataclass(frozen=True)
class Package:
    directory: Path
    template: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        resources: dict[str, Any] = self.template["Resources"]
        return resources

    def properties(self, logical_id: str) -> dict[str, Any]:
        props: dict[str, Any] = self.resources[logical_id]["Properties"]
        return props

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """The resources of one type, by logical id."""
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if resource["Type"] == resource_type
        }

    def role_of(self, function: str) -> str:
        role = self.properties(function)["Role"]
        assert isinstance(role, dict) and "Fn::GetAtt" in role, role
        name, attribute = role["Fn::GetAtt"]
        assert attribute == "Arn"
        return str(name)


def build_package(out: Path) -> Package:
    """Run ``chalice package`` into ``out`` and read the template it wrote.

    Chalice caches the dependencies' zip in ``.chalice/deployments/`` and rewrites it in place
    (through one fixed ``.tmp.zip`` name), so two builds from the same checkout at once (two
    xdist workers, or a test run beside ``make bench``) can read each other's half-written file.
    Builds therefore take an exclusive lock on the checkout for the time of the build.
    """
    lock_path = ROOT / ".chalice" / "package.lock"
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _build_package(out)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def shared_package(root: Path) -> Package:
    """The one build of a test session, shared by every xdist worker.

    ``root`` is a directory all workers see (the parent of pytest's per-worker base temp); the
    first worker builds, the others wait on the lock and read the same files.
    """
    root.mkdir(parents=True, exist_ok=True)
    done = root / "package.done"
    with (root / "package.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                build_package(root / "build")
                done.write_text("built\n")
            return Package(root / "build", json.loads((root / "build" / "sam.json").read_text()))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _build_package(out: Path) -> Package:
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    command = [
        str(BIN / "chalice"),
        "package",
        "--stage",
        "prod",
        "--merge-template",
        str(MERGE_TEMPLATE),
        str(out),
    ]
    result = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, (
        f"chalice package failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    compile_package(out / "deployment.zip")
    return Package(out, json.loads((out / "sam.json").read_text()))
