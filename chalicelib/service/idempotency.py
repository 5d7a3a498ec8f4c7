"""Idempotency-Key handling for mutating requests: a repeat returns the first result.

The first request with a key claims it (a conditional write), runs, and stores its response; a
repeat with the same key and the same request gets that stored response back. The same key with a
different request is refused (422), and a repeat while the first is still running gets 409.
Unexpected failures release the claim so the client can retry.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

from chalicelib.domain.errors import ConflictError, RuleViolationError, ValidationError
from chalicelib.ports import IdempotencyStore, StoredResponse

_KEY = re.compile(r"^[\x21-\x7e]{1,255}$")


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What makes two requests 'the same request'."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def run_idempotent(
    store: IdempotencyStore,
    tenant_id: str,
    key: str,
    request_fingerprint: str,
    run: Callable[[], StoredResponse],
) -> tuple[StoredResponse, bool]:
    """Run ``run`` once per key. Returns the response and whether it is a replay of the first."""
    if not _KEY.match(key):
        raise ValidationError(
            "Idempotency-Key must be 1 to 255 visible ASCII characters.", field="Idempotency-Key"
        )
    existing = store.begin(tenant_id, key, request_fingerprint)
    if existing is not None:
        if existing.fingerprint != request_fingerprint:
            raise RuleViolationError(
                "This Idempotency-Key was already used for a different request.",
                code="idempotency_key_reused",
            )
        if existing.response is None:
            raise ConflictError(
                "A request with this Idempotency-Key is still being processed.",
                code="idempotency_in_progress",
            )
        return existing.response, True
    try:
        response = run()
    except BaseException:
        store.abandon(tenant_id, key)
        raise
    if response.status >= 500:
        store.abandon(tenant_id, key)
    else:
        store.finish(tenant_id, key, response)
    return response, False
