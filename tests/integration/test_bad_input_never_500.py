"""Whatever arrives, the answer is never a 500, and errors always have the contract's shape."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app  # noqa: F401 - registers every route
from chalicelib.api.models.networks import NetworkCreate
from chalicelib.api.routing import REGISTRY, RouteSpec
from tests.integration.conftest import OPERATOR_KEY, Harness
from tests.integration.samples import valid_body

WITH_BODY = [s for s in REGISTRY if s.body is not None]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _mutations(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid bodies with one field replaced, removed or added, plus arbitrary JSON."""
    names = sorted(base)
    replaced = st.builds(
        lambda name, value: {**base, name: value}, st.sampled_from(names), json_values
    )
    removed = st.sampled_from(names).map(lambda name: {k: v for k, v in base.items() if k != name})
    added = st.builds(lambda name, value: {**base, name: value}, st.text(max_size=10), json_values)
    return st.one_of(replaced, removed, added, json_values)


def _assert_shaped(status: int, body: bytes) -> None:
    assert status < 500, body
    if status >= 400:
        error = json.loads(body)["error"]
        assert re.fullmatch(r"[a-z_]+", error["code"])
        assert isinstance(error["message"], str) and error["message"]


@pytest.mark.parametrize("spec", WITH_BODY, ids=lambda s: f"{s.method} {s.path}")
@pytest.mark.parametrize("backend", ["moto"], indirect=True)
def test_mutated_bodies_never_cause_a_500(harness: Harness, spec: RouteSpec) -> None:
    tenant = harness.create_tenant()
    ticket = harness.create_ticket(tenant)["ticket_id"]
    base = f"/v1/tickets/{ticket}"
    ids = {
        "ticket_id": ticket,
        "note_id": harness.post(f"{base}/notes", tenant.key, {"text": "n"}).json["note_id"],
        "entry_id": harness.post(
            f"{base}/time-entries", tenant.key, {"date": "2026-11-24", "hours_worked": 1}
        ).json["time_entry_id"],
        "charge_id": harness.post(f"{base}/charges", tenant.key, {"name": "c", "quantity": 1}).json[
            "charge_id"
        ],
        "attachment_id": harness.post(
            f"{base}/attachments",
            tenant.key,
            {"file_name": "a.txt", "content_type": "text/plain", "size": 1},
        ).json["attachment_id"],
    }
    ids["tenant_id"] = tenant.tenant_id
    if "{partnership_id}" in spec.path:
        ids["partnership_id"] = harness.partner(harness.create_tenant(), tenant)
    if "{outsourcing_id}" in spec.path:
        partner = harness.create_tenant()
        harness.enable_outsourcing(tenant)
        partnership = harness.partner(tenant, partner)
        ids["outsourcing_id"] = harness.outsource(tenant, ticket, partnership)["outsourcing_id"]
    if "{invitation_id}" in spec.path:
        harness.enable_outsourcing(tenant)
        ids["invitation_id"] = harness.invite(tenant)["id"]
    if spec.path.startswith("/v1/networks"):
        harness.enable_outsourcing(tenant)
        entry = valid_body(NetworkCreate)
        ids["network_id"] = harness.post("/v1/networks", tenant.key, entry).json["network_id"]
    path = re.sub(r"{(\w+)}", lambda m: ids[m.group(1)], spec.path)
    key = OPERATOR_KEY if spec.auth == "operator" else tenant.key
    sample = valid_body(spec.body) or {}

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(body=_mutations(sample))
    def check(body: Any) -> None:
        reply = harness.request(spec.method, path, key=key, raw=json.dumps(body))
        _assert_shaped(reply.status_code, reply.body)

    check()


@pytest.mark.parametrize("backend", ["moto"], indirect=True)
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=st.binary(max_size=200), query=st.text(max_size=30))
def test_raw_bytes_and_odd_queries_never_cause_a_500(
    harness: Harness, raw: bytes, query: str
) -> None:
    tenant_key = harness.create_tenant().key if not hasattr(harness, "_fuzz_key") else None
    if tenant_key is not None:
        harness._fuzz_key = tenant_key  # type: ignore[attr-defined]
    key = harness._fuzz_key  # type: ignore[attr-defined]
    reply = harness.request("POST", "/v1/tickets", key=key, raw=raw)
    _assert_shaped(reply.status_code, reply.body)
    from urllib.parse import quote

    listed = harness.get(f"/v1/tickets?limit=5&cursor={quote(query)}", key)
    _assert_shaped(listed.status_code, listed.body)
