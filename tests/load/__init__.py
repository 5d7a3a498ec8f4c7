"""The bounded load test (``make load``, ``python -m tests.load``).

It starts the real local stack as a subprocess (127.0.0.1 only) and sets up N lead tenants,
each with a partner tenant and a subcontractor company signed in to the portal, one lane
outsourced to each. Workers then act as leads, partners and portal users at once for a fixed
time; afterwards the pump is drained and every item is counted on both sides of every lane;
half the tenants' lanes are then submitted and approved. It prints the requests per second,
p50/p99 latency per route template, the sync lag of notes (written until readable on the other
side), errors by status, and the exact counts; the stack is stopped at the end in every case.
"""
