"""Start, talk to and stop the local stack (``python -m infra.local.stack``) as a subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import requests
from pytest_socket import socket_allow_hosts

from infra.local.processes import free_port

LOOPBACK = "127.0.0.1"


@contextlib.contextmanager
def loopback_only() -> Iterator[None]:
    """While it lasts, this process connects to nowhere but 127.0.0.1 (pytest-socket)."""
    connect = socket.socket.connect
    socket_allow_hosts([LOOPBACK], allow_unix_socket=True)
    try:
        yield
    finally:
        socket.socket.connect = connect  # type: ignore[method-assign]


PROJECT_DIR = Path(__file__).resolve().parents[2]
READY_SECONDS = 60.0
STOP_SECONDS = 30.0


# Variables that choose what the stack starts: a test sets them itself or gets the defaults
# (moto for S3, SES, Cognito and SQS; DynamoDB Local for DynamoDB when Java 17 and the npm
# package are there).
STACK_CHOICES = {
    "AWS_ENDPOINT_URL",
    "DYNAMODB_ENDPOINT_URL",
    "LOCAL_DYNAMODB",
    "OPERATOR_KEY",
    "PORT",
}


def stack_environment(state_dir: Path, **overrides: str) -> dict[str, str]:
    """The test process's fake AWS identity plus what one stack needs, nothing else inherited."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in STACK_CHOICES and not k.startswith("PYTEST_")
    }
    suffix = uuid.uuid4().hex[:10]
    env.update(
        {
            "PORT": str(free_port()),
            "OPERATOR_KEY": "op_" + secrets.token_urlsafe(32),
            "LOCAL_STATE_DIR": str(state_dir),
            "TABLE_NAME": f"e2e-{suffix}",
            "BUCKET_NAME": f"e2e-files-{suffix}",
            "MAIL_FROM": "no-reply@outsourcing.test",
        }
    )
    env.update(overrides)
    return env


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a live process, None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1]), int(fields[2])


def _all_pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def descendants(root: int) -> set[int]:
    """Every live process below ``root``."""
    parents: dict[int, int] = {}
    for pid in _all_pids():
        stat = _proc_stat(pid)
        if stat is not None:
            parents[pid] = stat[1]
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def running(pids: set[int], groups: set[int]) -> list[str]:
    """Processes still running (zombies excluded) among ``pids`` or in process ``groups``."""
    left = []
    for pid in _all_pids():
        stat = _proc_stat(pid)
        if stat is None or stat[0] == "Z":
            continue
        if pid in pids or stat[2] in groups:
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            left.append(f"{pid}: {cmdline.decode(errors='replace').strip()}")
    return left


@dataclass
class StackProcess:
    """One running local stack and what it reported in its ``stack.json``."""

    proc: subprocess.Popen[bytes]
    env: dict[str, str]
    output_path: Path
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.env['PORT']}"

    @property
    def operator_key(self) -> str:
        return self.env["OPERATOR_KEY"]

    @property
    def state_dir(self) -> Path:
        return Path(self.env["LOCAL_STATE_DIR"])

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def state_file(self) -> dict[str, Any] | None:
        try:
            data: dict[str, Any] = json.loads((self.state_dir / "stack.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return data

    def wait_ready(self, timeout: float = READY_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"stack exited with {self.proc.returncode}:\n{self.output()[-4000:]}"
                )
            state = self.state_file()
            if state and state["status"] == "ready" and state["pids"]["stack"] == self.proc.pid:
                try:
                    health = requests.get(f"{self.base_url}/health", timeout=2)
                except requests.RequestException:
                    health = None
                if health is not None and health.status_code == 200:
                    self.info = state
                    return
            time.sleep(0.1)
        raise AssertionError(f"stack not ready in {timeout:.0f} s:\n{self.output()[-4000:]}")

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the stack (SIGINT is what Ctrl-C sends); assert it exits 0 and leaves no
        process behind: none below it, none in the process groups of its children."""
        tree = descendants(self.proc.pid) | {self.proc.pid}
        groups = {self.proc.pid, *self.info.get("pids", {}).values()}
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            code = self.proc.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            name = signal.Signals(signum).name
            raise AssertionError(f"stack ignored {name}:\n{self.output()[-4000:]}") from None
        deadline = time.monotonic() + 5
        while (left := running(tree, groups)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not left, f"left running after stop: {left}"
        assert code == 0, f"stack exited with {code}:\n{self.output()[-4000:]}"
        return code

    # -- calling the API -----------------------------------------------------------------------

    def call(
        self, method: str, path: str, key: str | None = None, body: Any = None
    ) -> requests.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return requests.request(
            method, f"{self.base_url}{path}", json=body, headers=headers, timeout=10
        )

    def create_tenant(self, name: str = "Acme Services") -> tuple[str, str]:
        """A new tenant through the operator API; returns (tenant_id, api_key)."""
        reply = self.call(
            "POST",
            "/v1/admin/tenants",
            self.operator_key,
            {
                "name": name,
                "language": "en",
                "currency": "USD",
                "contact_email": f"ops-{uuid.uuid4().hex[:6]}@acme.example.com",
            },
        )
        assert reply.status_code == 201, reply.text
        data = reply.json()
        return data["tenant_id"], data["api_key"]

    def aws(self, service: str) -> Any:
        """A boto3 client on the stack's endpoint (DynamoDB services on the DynamoDB one)."""
        dynamo = service in {"dynamodb", "dynamodbstreams"}
        endpoint = self.info["dynamodb_endpoint" if dynamo else "aws_endpoint"]
        return boto3.client(service, endpoint_url=endpoint, region_name=self.info["region"])


def start_stack(env: Mapping[str, str], output_path: Path) -> StackProcess:
    """Start ``python -m infra.local.stack`` (its own session) and wait until it is ready."""
    output_path.parent.mkdir(parents=True, exist_ok=True)
    with output_path.open("ab") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local.stack"],
            cwd=PROJECT_DIR,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    stack = StackProcess(proc, dict(env), output_path)
    try:
        stack.wait_ready()
    except BaseException:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(STOP_SECONDS)
        raise
    return stack


def stream_sequence_numbers(stack: StackProcess) -> list[int]:
    """Every sequence number in the table's stream, read directly (a second reader)."""
    streams = stack.aws("dynamodbstreams")
    arn = stack.info["stream_arn"]
    numbers: list[int] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        while iterator:
            page = streams.get_records(ShardIterator=iterator, Limit=1000)
            if not page["Records"]:
                break
            numbers += [int(r["dynamodb"]["SequenceNumber"]) for r in page["Records"]]
            iterator = page.get("NextShardIterator")
    return numbers


def checkpoint(stack: StackProcess) -> int | None:
    """The highest position the pump has checkpointed for this stack's stream."""
    try:
        data = json.loads((stack.state_dir / "checkpoints.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    positions = data.get(stack.info["stream_arn"], {})
    return max((int(s) for s in positions.values()), default=None)


def pump_stats(stack: StackProcess) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((stack.state_dir / "pump-stats.json").read_text())
    return data


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
