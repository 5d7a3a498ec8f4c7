"""The deployment package, built once per test session and shared by the infra modules.

``chalice package --stage prod --merge-template infra/aws/resources.json`` (as ``make package``)
writes ``sam.json`` and ``deployment.zip``, whose modules are then compiled (``infra.aws.bytecode``,
as ``make package`` does); the template tests, the alarm tests and the deploy
rehearsal all read the same build.
"""

from __future__ import annotations

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
    """Run ``chalice package`` into ``out`` and read the template it wrote."""
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
