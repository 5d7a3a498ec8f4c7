"""A Lambda context for invoking the app's functions outside Lambda (the pump, jobs, tools).

Lambda always passes a context; the app's middleware reads it (function name, request id) into
every log line, so local invocations pass one too.
"""

from __future__ import annotations

from typing import Any


def lambda_context(function_name: str, memory_mb: int = 1024) -> Any:
    """A context like Lambda's for ``function_name`` (Chalice's own local implementation)."""
    from chalice.local import LambdaContext

    return LambdaContext(function_name=function_name, memory_size=memory_mb)
