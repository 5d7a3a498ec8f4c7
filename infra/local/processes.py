"""Child processes of the local stack: started in their own process groups, stopped as groups.

Each child is a session leader, so a terminal's Ctrl-C reaches only the stack, which then stops
every child group in order. On Linux each child also asks the kernel for SIGTERM if the stack
itself dies (``PR_SET_PDEATHSIG``), so even a killed stack leaves nothing running.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PR_SET_PDEATHSIG = 1
LOOPBACK = "127.0.0.1"
# `python -m moto.server`, without a log line per request (the pump polls several times a second).
MOTO_MAIN = (
    "import logging, sys; logging.getLogger('werkzeug').setLevel(logging.WARNING); "
    "from moto.server import main; main(sys.argv[1:])"
)


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGTERM us when the parent goes away."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Child:
    """One started child process (the leader of its own process group)."""

    name: str
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM the whole group, SIGKILL it after ``timeout``; returns the exit code."""
        if self.alive():
            self._signal_group(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            code = self.proc.wait()
        # Anything the child left behind in its group goes too.
        self._signal_group(signal.SIGKILL)
        return code


Output = IO[Any] | int | None


def spawn(
    name: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    output: tuple[Output, Output] = (None, None),
) -> Child:
    """Start ``args`` as a new session (process group) that dies with this process; ``output``
    is where its stdout and stderr go (default: this process's)."""
    stdout, stderr = output
    proc = subprocess.Popen(
        list(args),
        env=dict(env),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=stderr,
        start_new_session=True,
        preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
    )
    return Child(name, proc)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int) -> bool:
    """True when a server could listen on 127.0.0.1:``port`` (connections in TIME_WAIT are fine,
    as for any server that sets SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


def http_status(url: str, timeout: float = 1.0) -> int | None:
    """The HTTP status ``url`` answers with, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (OSError, ValueError):
        return None


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    interval: float = 0.1,
    abort: Callable[[], bool] = lambda: False,
) -> bool:
    """Poll ``predicate`` until it holds (True), ``timeout`` passes or ``abort`` holds (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if abort():
            return False
        if predicate():
            return True
        time.sleep(interval)
    return False


def start_moto(
    port: int, *, env: Mapping[str, str], log: IO[Any] | int | None = subprocess.DEVNULL
) -> Child:
    """A moto server (every service on one endpoint) on 127.0.0.1:``port``."""
    return spawn(
        "moto",
        [sys.executable, "-c", MOTO_MAIN, "-H", LOOPBACK, "-p", str(port)],
        env=env,
        output=(log, subprocess.STDOUT if log is not None else None),
    )


def wait_for_endpoint(url: str, *, timeout: float, abort: Callable[[], bool]) -> bool:
    """True once anything answers HTTP at ``url``."""
    return wait_until(lambda: http_status(url) is not None, timeout=timeout, abort=abort)
