"""API keys: minting, listing, revoking, and authenticating a bearer token.

A key looks like ``tk_<tenant id><key id><secret>``: 3 + 26 + 26 + 43 characters, the secret being
256 random bits. The tenant and key ids in the token let authentication be one GetItem on the
tenant's own partition; only the SHA-256 of the whole token is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from chalicelib.domain.errors import AuthenticationError, NotFoundError
from chalicelib.domain.ids import is_id, new_id
from chalicelib.domain.tenants import ApiKey, Permission, Principal
from chalicelib.ports import ApiKeyRepository, Page, Paging

PREFIX = "tk_"
_SECRET_LEN = 43  # 32 bytes, base64url without padding
TOKEN_LEN = len(PREFIX) + 26 + 26 + _SECRET_LEN


@dataclass(frozen=True, slots=True)
class KeyPorts:
    keys: ApiKeyRepository
    cache: AuthCache


@dataclass(frozen=True, slots=True)
class NewKey:
    tenant_id: str
    name: str
    permission: Permission
    now: datetime


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    token: str  # shown once


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mint_key(tenant_id: str, *, name: str, permission: Permission, now: datetime) -> IssuedKey:
    """Make a new key for the tenant (not stored yet)."""
    key_id = new_id()
    token = PREFIX + tenant_id + key_id + secrets.token_urlsafe(32)
    key = ApiKey(
        tenant_id=tenant_id,
        key_id=key_id,
        name=name,
        permission=permission,
        key_hash=hash_token(token),
        created_at=now,
    )
    return IssuedKey(key=key, token=token)


def create_key(ports: KeyPorts, cmd: NewKey) -> IssuedKey:
    """Mint and store a key for the tenant; the clear token is returned only here."""
    issued = mint_key(cmd.tenant_id, name=cmd.name, permission=cmd.permission, now=cmd.now)
    ports.keys.add(issued.key)
    return issued


def list_keys(ports: KeyPorts, tenant_id: str, paging: Paging) -> Page[ApiKey]:
    """The tenant's keys, oldest first (their hashes are never shown)."""
    return ports.keys.list(tenant_id, paging.limit, paging.cursor)


def revoke_key(ports: KeyPorts, tenant_id: str, key_id: str, now: datetime) -> ApiKey:
    """Revoke a key. The tenant's last active ``all`` key cannot be revoked (409)."""
    if not is_id(key_id):
        raise NotFoundError("No such API key.")
    key = ports.keys.get(tenant_id, key_id)
    if not key.active:
        raise NotFoundError("No such API key.")
    revoked = ports.keys.revoke(key, now)
    ports.cache.forget(key_id)
    return revoked


class AuthCache:
    """Remembers recently verified keys for ``ttl`` seconds, so most requests skip a read.

    A revocation made in this process is seen at once; one made elsewhere within ``ttl``.
    """

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, tuple[float, str, ApiKey]] = {}
        self._lock = threading.Lock()

    def get(self, key_id: str, token_hash: str) -> ApiKey | None:
        with self._lock:
            entry = self._entries.get(key_id)
        if entry is None:
            return None
        stored_at, stored_hash, key = entry
        if self._clock() - stored_at > self._ttl or not hmac.compare_digest(
            stored_hash, token_hash
        ):
            return None
        return key

    def put(self, key: ApiKey, token_hash: str) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key.key_id] = (self._clock(), token_hash, key)

    def forget(self, key_id: str) -> None:
        with self._lock:
            self._entries.pop(key_id, None)


def authenticate(ports: KeyPorts, token: str, operator_token: str | None) -> Principal:
    """Turn a bearer token into a principal, or raise ``AuthenticationError`` (401)."""
    if operator_token and hmac.compare_digest(token.encode(), operator_token.encode()):
        return Principal(tenant_id=None, key_id=None, permission=Permission.ALL, operator=True)
    if len(token) != TOKEN_LEN or not token.startswith(PREFIX):
        raise AuthenticationError("The API key is not valid.")
    tenant_id = token[len(PREFIX) : len(PREFIX) + 26]
    key_id = token[len(PREFIX) + 26 : len(PREFIX) + 52]
    if not (is_id(tenant_id) and is_id(key_id)):
        raise AuthenticationError("The API key is not valid.")
    token_hash = hash_token(token)
    key = ports.cache.get(key_id, token_hash)
    if key is None:
        try:
            key = ports.keys.get(tenant_id, key_id)
        except NotFoundError as exc:
            raise AuthenticationError("The API key is not valid.") from exc
        if not key.active or not hmac.compare_digest(key.key_hash, token_hash):
            raise AuthenticationError("The API key is not valid.")
        ports.cache.put(key, token_hash)
    return Principal(
        tenant_id=key.tenant_id, key_id=key.key_id, permission=key.permission, name=key.name
    )


def public_view(key: ApiKey) -> ApiKey:
    """The key without its hash, for listings."""
    return replace(key, key_hash="")
