"""boto3 clients, created lazily on first use and cached per process, on the configured endpoint."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.config import Settings

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str], Any] = {}
_session: Any = None


def _shared_session() -> Any:
    """One boto3 session per process, so service models are loaded once for every client."""
    global _session  # noqa: PLW0603 - process-wide cache, guarded by the lock
    if _session is None:
        import boto3  # deferred: keeps `import app` cheap

        _session = boto3.session.Session()
    return _session


def client(service: str, settings: Settings, *, endpoint_url: str | None = None) -> Any:
    """A cached boto3 client for ``service`` (endpoint: explicit, else the settings' one)."""
    endpoint = endpoint_url or settings.aws_endpoint_url
    cache_key = (service, endpoint, settings.region)
    with _lock:
        found = _clients.get(cache_key)
        if found is None:
            found = _shared_session().client(
                service, region_name=settings.region, endpoint_url=endpoint
            )
            _clients[cache_key] = found
        return found


def forget_clients() -> None:
    """Drop cached clients (tests start and stop moto between runs)."""
    with _lock:
        _clients.clear()
