"""The operator credential: from Settings directly, or from an SSM SecureString parameter."""

from __future__ import annotations

import threading
from typing import Any

from chalicelib.config import Settings

_lock = threading.Lock()
_cached: dict[str, str] = {}


def operator_token(settings: Settings, ssm_client_factory: Any) -> str | None:
    """The operator key, fetched once per process when it lives in SSM."""
    if settings.operator_key is not None:
        return settings.operator_key.get_secret_value()
    name = settings.operator_key_parameter
    if not name:
        return None
    with _lock:
        if name not in _cached:
            ssm = ssm_client_factory()
            response = ssm.get_parameter(Name=name, WithDecryption=True)
            _cached[name] = response["Parameter"]["Value"]
        return _cached[name]
