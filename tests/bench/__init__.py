"""Benchmarks printed by ``make bench`` (figures, not pass/fail assertions in the test suite)."""
