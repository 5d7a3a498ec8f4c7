"""The local stack (``make run`` / ``python -m infra.local.stack``): the whole service on 127.0.0.1.

Process tree (each child in its own process group; the stack stops them all)::

    infra.local.stack          supervisor: provisions, prints the URLs, waits, stops everything
    ├── moto.server            every AWS service on one endpoint (only without AWS_ENDPOINT_URL)
    ├── chalice local          the API and the portal (stage ``local``, no autoreload)
    └── infra.local.pump_main  stream pump: table stream -> the app's stream handler

Startup: moto (unless an endpoint is given) -> table, bucket, sender identity and user pool from
``infra/aws/resources.json`` (idempotent) -> API and pump -> once ``GET /health`` answers 200,
the API URL, portal URL, operator key and AWS endpoint are printed and ``stack.json`` is written
to the state directory. Ctrl-C (SIGINT), SIGTERM or SIGHUP stop every child and exit 0; if a child
dies on its own the others are stopped and the exit code is 1.

Environment:
    PORT                    API port on 127.0.0.1 (default 8000)
    OPERATOR_KEY            operator credential (default: a random one, printed at start)
    AWS_ENDPOINT_URL        use this endpoint for every AWS service instead of starting moto
                            (for example a moto server that outlives the stack)
    DYNAMODB_ENDPOINT_URL   DynamoDB and DynamoDB Streams only (for example DynamoDB Local)
    LOCAL_STATE_DIR         checkpoints.json, dead-letters.jsonl, pump-stats.json, stack.json,
                            moto.log (default ``.local`` in the project directory)
    TABLE_NAME, BUCKET_NAME, MAIL_FROM, AWS_REGION   as for the app (see chalicelib/config.py)

Without credentials in the environment, fake ones are used: nothing here talks to AWS.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from infra.local.processes import (
    LOOPBACK,
    Child,
    free_port,
    http_status,
    port_is_free,
    spawn,
    start_moto,
    wait_for_endpoint,
    wait_until,
)
from infra.local.pump_main import CHECKPOINTS_FILE

PROJECT_DIR = Path(__file__).resolve().parents[2]
STATE_FILE = "stack.json"
STARTUP_SECONDS = 60.0
STOP_SECONDS = 10.0
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
CHALICE = "import sys; from chalice.cli import main; sys.exit(main())"


class StartupError(Exception):
    """The stack could not start (message says why)."""


def log(event: str, **fields: object) -> None:
    """One short structured line on stdout."""
    suffix = "".join(f" {name}={value}" for name, value in fields.items())
    print(f"stack: {event}{suffix}", flush=True)


def state_dir(environ: Mapping[str, str]) -> Path:
    configured = environ.get("LOCAL_STATE_DIR")
    return Path(configured).resolve() if configured else PROJECT_DIR / ".local"


def prepare_environment(environ: MutableMapping[str, str]) -> None:
    """Fake credentials and a region when none are set; stream calls without account endpoints."""
    # Nothing here needs real credentials; a profile could make boto3 fetch some over the network.
    environ.pop("AWS_PROFILE", None)
    if not environ.get("AWS_ACCESS_KEY_ID"):
        environ.update(FAKE_CREDENTIALS)
        environ.pop("AWS_SESSION_TOKEN", None)
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    environ["AWS_REGION"] = environ["AWS_DEFAULT_REGION"] = region
    environ["AWS_ACCOUNT_ID_ENDPOINT_MODE"] = "disabled"
    environ["PYTHONUNBUFFERED"] = "1"


def keep_checkpoints_of(path: Path, stream_arn: str) -> None:
    """Drop the positions of other streams (they belonged to a moto server that is gone)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return
    kept = {arn: positions for arn, positions in data.items() if arn == stream_arn}
    if kept != data:
        path.write_text(json.dumps(kept, indent=1))


@dataclass
class Stack:
    environ: dict[str, str]
    # Set by the signal handlers: a plain flag, since a handler must not take locks.
    stop_requested: bool = False
    children: list[Child] = field(default_factory=list)
    logs: list[IO[Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = int(self.environ.get("PORT", "8000"))
        self.state = state_dir(self.environ)
        self.api_url = f"http://{LOOPBACK}:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------

    def child_died(self) -> Child | None:
        return next((c for c in self.children if not c.alive()), None)

    def aborted(self) -> bool:
        return self.stop_requested or self.child_died() is not None

    def check(self, what: str) -> None:
        """Raise when startup cannot go on: stop requested or a child died."""
        if self.stop_requested:
            raise StartupError(f"stopped while {what}")
        dead = self.child_died()
        if dead is not None:
            raise StartupError(f"{dead.name} exited with {dead.proc.returncode} while {what}")

    def stop_children(self) -> None:
        # The API first (no new writes), then the pump (finishes its batch and checkpoints),
        # then moto.
        for child in reversed(self.children):
            code = child.stop(STOP_SECONDS)
            log("stopped", process=child.name, pid=child.pid, code=code)
        self.children.clear()
        for handle in self.logs:
            handle.close()

    # -- startup -----------------------------------------------------------------------------

    def aws_endpoint(self) -> tuple[str, bool]:
        """The endpoint for every AWS service, and whether moto was started here for it."""
        given = self.environ.get("AWS_ENDPOINT_URL")
        if given:
            return given, False
        port = free_port()
        self.state.mkdir(parents=True, exist_ok=True)
        moto_log = (self.state / "moto.log").open("wb")
        self.logs.append(moto_log)
        moto = start_moto(port, env=self.environ, log=moto_log)
        self.children.append(moto)
        endpoint = f"http://{LOOPBACK}:{port}"
        log("started", process="moto", pid=moto.pid, endpoint=endpoint)
        if not wait_for_endpoint(endpoint, timeout=STARTUP_SECONDS, abort=self.aborted):
            self.check("waiting for moto")
            raise StartupError(f"moto did not answer on {endpoint}")
        return endpoint, True

    def provision(self, endpoint: str) -> dict[str, Any]:
        import boto3
        from botocore.config import Config

        from chalicelib.config import Settings
        from infra.local.resources import Clients, provision

        settings = Settings.from_environ(os.environ)
        dynamodb_endpoint = self.environ.get("DYNAMODB_ENDPOINT_URL") or endpoint
        session = boto3.session.Session(region_name=settings.region)
        config = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 5})

        def client(service: str, url: str = endpoint) -> Any:
            return session.client(service, endpoint_url=url, config=config)

        provisioned = provision(
            Clients(
                dynamodb=client("dynamodb", dynamodb_endpoint),
                s3=client("s3"),
                ses=client("ses"),
                cognito=client("cognito-idp"),
                sqs=client("sqs"),
            ),
            table_name=settings.table_name,
            bucket_name=settings.bucket_name,
            mail_from=settings.mail_from,
        )
        log(
            "provisioned",
            table=provisioned.table_name,
            bucket=provisioned.bucket_name,
            user_pool=provisioned.user_pool_id,
        )
        return {
            "region": settings.region,
            "aws_endpoint": endpoint,
            "dynamodb_endpoint": dynamodb_endpoint,
            "table_name": provisioned.table_name,
            "bucket_name": provisioned.bucket_name,
            "stream_arn": provisioned.stream_arn,
            "user_pool_id": provisioned.user_pool_id,
            "user_pool_client_id": provisioned.user_pool_client_id,
            "dead_letter_queue_url": provisioned.dead_letter_queue_url,
            "mail_from": settings.mail_from,
        }

    def app_environment(self, resources: Mapping[str, Any], operator_key: str) -> dict[str, str]:
        env = dict(self.environ)
        env.update(
            {
                "AWS_ENDPOINT_URL": resources["aws_endpoint"],
                "TABLE_NAME": resources["table_name"],
                "BUCKET_NAME": resources["bucket_name"],
                "MAIL_FROM": resources["mail_from"],
                "USER_POOL_ID": resources["user_pool_id"] or "",
                "USER_POOL_CLIENT_ID": resources["user_pool_client_id"] or "",
                "DEAD_LETTER_QUEUE_URL": resources["dead_letter_queue_url"] or "",
                "OPERATOR_KEY": operator_key,
                "API_BASE_URL": self.api_url,
                "LOCAL_STATE_DIR": str(self.state),
            }
        )
        if resources["dynamodb_endpoint"] != resources["aws_endpoint"]:
            env["DYNAMODB_ENDPOINT_URL"] = resources["dynamodb_endpoint"]
        return env

    def start_api(self, env: Mapping[str, str]) -> None:
        args = [sys.executable, "-c", CHALICE, "local", "--no-autoreload", "--stage", "local"]
        args += ["--host", LOOPBACK, "--port", str(self.port)]
        api = spawn("api", args, env=env, cwd=PROJECT_DIR)
        self.children.append(api)
        log("started", process="api", pid=api.pid, url=self.api_url)

    def start_pump(self, env: Mapping[str, str], stream_arn: str) -> None:
        # Like `chalice local` (and Lambda), the stage's configured variables win.
        pump_env = {**env, **chalice_stage_environment("local"), "STREAM_ARN": stream_arn}
        pump = spawn(
            "pump", [sys.executable, "-m", "infra.local.pump_main"], env=pump_env, cwd=PROJECT_DIR
        )
        self.children.append(pump)
        log("started", process="pump", pid=pump.pid)

    def write_state(self, info: dict[str, Any]) -> None:
        path = self.state / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(info, indent=1))
        tmp.replace(path)

    def start(self) -> dict[str, Any]:
        if not port_is_free(self.port):
            raise StartupError(f"port {self.port} on {LOOPBACK} is in use (set PORT)")
        self.state.mkdir(parents=True, exist_ok=True)
        operator_key = self.environ.get("OPERATOR_KEY") or secrets.token_urlsafe(32)
        key_source = "OPERATOR_KEY" if self.environ.get("OPERATOR_KEY") else "generated"
        endpoint, moto_here = self.aws_endpoint()
        self.check("starting")
        resources = self.provision(endpoint)
        self.check("provisioning")
        if moto_here and resources["dynamodb_endpoint"] == endpoint:
            # Streams of an earlier moto server are gone with it; DynamoDB Local may live on.
            keep_checkpoints_of(self.state / CHECKPOINTS_FILE, resources["stream_arn"])
        env = self.app_environment(resources, operator_key)
        self.start_pump(env, resources["stream_arn"])
        self.start_api(env)
        health = f"{self.api_url}/health"
        if not wait_until(
            lambda: http_status(health) == 200, timeout=STARTUP_SECONDS, abort=self.aborted
        ):
            self.check("waiting for the API")
            raise StartupError(f"{health} did not answer 200 within {STARTUP_SECONDS:.0f} s")
        info = {
            "status": "ready",
            "api_url": self.api_url,
            "portal_url": f"{self.api_url}/portal/",
            "moto_started": moto_here,
            "state_dir": str(self.state),
            "pids": {"stack": os.getpid(), **{c.name: c.pid for c in self.children}},
            **resources,
        }
        self.write_state(info)
        print_ready(info, operator_key, key_source)
        return info

    def supervise(self) -> int:
        """Wait for a stop request (exit 0) or a child's death (exit 1)."""
        while not self.stop_requested:
            dead = self.child_died()
            if dead is not None:
                log("child exited", process=dead.name, pid=dead.pid, code=dead.proc.returncode)
                return 1
            time.sleep(0.2)
        return 0


def chalice_stage_environment(stage: str) -> dict[str, str]:
    """The environment ``.chalice/config.json`` gives the stage's functions (for the pump)."""
    try:
        config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    env = dict(config.get("environment_variables", {}))
    env.update(config.get("stages", {}).get(stage, {}).get("environment_variables", {}))
    return {str(k): str(v) for k, v in env.items()}


def print_ready(info: Mapping[str, Any], operator_key: str, key_source: str) -> None:
    aws = info["aws_endpoint"]
    aws_note = "moto, started by the stack" if info["moto_started"] else "AWS_ENDPOINT_URL"
    lines = [
        "stack: ready",
        f"  API:           {info['api_url']}",
        f"  Portal:        {info['portal_url']}",
        f"  Operator key:  {operator_key}  ({key_source})",
        f"  AWS endpoint:  {aws}  ({aws_note})",
    ]
    if info["dynamodb_endpoint"] != aws:
        lines.append(f"  DynamoDB:      {info['dynamodb_endpoint']}  (DYNAMODB_ENDPOINT_URL)")
    lines += [
        f"  Table/bucket:  {info['table_name']} / {info['bucket_name']}",
        f"  State:         {info['state_dir']}",
        "  Ctrl-C stops everything.",
    ]
    print("\n".join(lines), flush=True)


def main() -> int:
    prepare_environment(os.environ)  # the stack's own boto3 clients use these too
    stack = Stack(dict(os.environ))

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stack.stop_requested = True

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, on_signal)

    code = 0
    try:
        stack.start()
        code = stack.supervise()
    except StartupError as exc:
        log("failed", reason=str(exc))
        code = 0 if stack.stop_requested else 1
    except Exception as exc:
        log("failed", reason=repr(exc))
        code = 1
    finally:
        log("stopping")
        stack.stop_children()
        path = stack.state / STATE_FILE
        if path.exists():
            stack.write_state({**json.loads(path.read_text()), "status": "stopped"})
        log("exited", code=code)
    return code


if __name__ == "__main__":
    sys.exit(main())
