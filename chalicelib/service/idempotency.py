"""Idempotency-Key handling for mutating requests: a repeat returns the first result.

The first request with a key claims it (a conditional write), runs, and stores its response; a
repeat with the same key and the same request gets that stored response back. The same key with a
different request is refused (422), and a repeat while the first is still running gets 409 (until
the claim's lease lapses: a request that crashed does not block its key for the whole TTL).
Unexpected failures release the claim so the client can retry.

Secrets shown once (an API key, an invitation token) are never stored: the stored response has
those fields set to null, so a repeat answers with the same ids and null in their place (and
says so in ``Idempotent-Secrets-Withheld``). The first response is the only one that carries them;
a client that lost it revokes or resends, exactly as without idempotency.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class IdempotentRequest:
    """A request carrying an Idempotency-Key: whose, which key, what request, and which fields
    of its response are secrets that must never be stored."""

    tenant_id: str
    key: str
    fingerprint: str
    secrets: tuple[str, ...] = ()


def withhold(response: StoredResponse, secrets: tuple[str, ...]) -> StoredResponse:
    """The response as it may be stored: every secret field of its JSON body set to null."""
    body = response.body
    if not secrets or not isinstance(body, dict):
        return response
    return dataclasses.replace(
        response, body={k: (None if k in secrets else v) for k, v in body.items()}
    )


def run_idempotent(
    store: IdempotencyStore, request: IdempotentRequest, run: Callable[[], StoredResponse]
) -> tuple[StoredResponse, bool]:
    """Run ``run`` once per key. Returns the response and whether it is a replay of the first
    (a replay never carries the secrets the first response showed)."""
    tenant_id, key, request_fingerprint = request.tenant_id, request.key, request.fingerprint
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
        store.finish(tenant_id, key, withhold(response, request.secrets))
    return response, False
