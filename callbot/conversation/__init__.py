"""The conversation policy: pure, synchronous, clock-free. Nothing here does I/O."""
