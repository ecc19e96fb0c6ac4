"""Hostile-input checks: every parser of outside input, fed mutated and random bytes.

``surfaces`` names what is fed and which errors count as a clear refusal; ``mutate`` makes the
inputs (stdlib only, so ``callbot bench fuzz`` runs without the test extras); ``bench`` runs
them by the hundred thousand. The tests under tests/test_fuzz_*.py drive the same surfaces
with hypothesis.
"""
