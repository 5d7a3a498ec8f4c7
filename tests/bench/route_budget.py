"""DynamoDB requests of every route, and of the stream reactions each one causes, on moto.

Every route in the registry is called once with the owner's own ids and a valid body (the
success path, as ``tests/integration/test_isolation.py`` builds it), with the key already
verified; then the stream is drained. Budgets (ARCHITECTURE.md): no Scan anywhere; a list is one
Query per page; every other route a fixed handful of requests (printed).
"""

from __future__ import annotations

from typing import Any

from tests.bench.costs import OPERATOR, Units, _counted, bench_world

Row = tuple[str, str, str, str]
LIST_BUDGET = 1


def _is_list(spec: Any) -> bool:
    return (
        spec.method == "GET"
        and spec.response is not None
        and "items" in getattr(spec.response, "model_fields", {})
    )


def route_budgets() -> list[Row]:
    from chalicelib.api.routing import REGISTRY
    from tests.integration.samples import valid_body
    from tests.integration.test_isolation import _fill, _owned_things

    rows: list[Row] = []
    over = 0
    with bench_world("bench-routes") as harness:
        pump = harness.pump
        owner = harness.create_tenant("Owner")
        harness.enable_outsourcing(owner)
        ids = {**_owned_things(harness, owner), "tenant_id": owner.tenant_id}
        ids.setdefault("token", "fl_unknown")
        pump.drain()
        harness.get("/v1/tenant", owner.key)  # the key verified once, then cached
        ordered = sorted(REGISTRY, key=lambda s: (s.method == "DELETE", s.path, s.method))
        for spec in ordered:
            path = _fill(spec, ids) if "{" in spec.path else spec.path
            key = {"tenant": owner.key, "operator": OPERATOR, "none": None}[spec.auth]
            api: Units
            api, stop = _counted()
            try:
                reply = harness.request(spec.method, path, key=key, json_body=valid_body(spec.body))
            finally:
                stop()
            reaction, stop = _counted()
            try:
                pump.drain()
            finally:
                stop()
            scans = api.requests["Scan"] + reaction.requests["Scan"]
            queries = api.requests["Query"]
            budget = "0 Scan"
            verdict = scans == 0
            if _is_list(spec) and reply.status_code == 200:
                budget = f"{LIST_BUDGET} Query, 0 Scan"
                verdict = verdict and queries <= LIST_BUDGET
            over += not verdict
            rows.append(
                (
                    f"route: {spec.method} {spec.path} ({reply.status_code})",
                    f"{sum(api.requests.values())} requests ({queries} Query)",
                    f"reactions {sum(reaction.requests.values())} requests",
                    budget + ("" if verdict else "  OVER"),
                )
            )
    rows.append(("routes over budget", str(over), f"of {len(rows)} routes", "0"))
    return rows


if __name__ == "__main__":
    for row in route_budgets():
        print("  ".join(row))
