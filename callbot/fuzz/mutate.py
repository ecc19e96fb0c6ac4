"""A seeded byte mutator in the AFL manner: flips, interesting values, splices, tokens.

Pure and deterministic for a given ``random.Random``: a failing input can be made again
from the benchmark's seed and its index.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

MAX_INPUT_BYTES = 200_000
#: Bytes that parsers treat specially, whatever the format.
INTERESTING_BYTES = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0x0A, 0x0D, 0x20, 0x22, 0x3A, 0x5B, 0x7B)
GENERIC_TOKENS = (b"{", b"}", b"[", b"]", b'"', b":", b",", b"\n", b"\t", b"\\u0000",
                  b"\xed\xa0\x80", b"\xff\xfe", b"-1", b"1e400", b"NaN", b"null", b"true",
                  b"9" * 5000, b"[" * 1200, b"\x00" * 64)


class Mutator:
    """Inputs derived from ``seeds`` plus ``tokens`` (format words worth inserting)."""

    def __init__(self, seeds: Sequence[bytes], tokens: Sequence[bytes] = (),
                 rng: random.Random | None = None) -> None:
        if not seeds:
            raise ValueError("a mutator needs at least one seed input")
        self.seeds, self.tokens = list(seeds), [*tokens, *GENERIC_TOKENS]
        self.rng = rng or random.Random(0)

    def next(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.03:  # now and then, pure noise
            return rng.randbytes(rng.choice((0, 1, 3, 16, 200, 4000)))
        data = bytearray(rng.choice(self.seeds))
        for _ in range(rng.choice((1, 1, 2, 3, 5, 8))):
            self._mutate_once(data)
        return bytes(data[:MAX_INPUT_BYTES])

    def _mutate_once(self, data: bytearray) -> None:
        rng = self.rng
        where = rng.randrange(len(data) + 1)
        kind = rng.randrange(8)
        if kind == 0 and data:  # flip a bit
            index = min(where, len(data) - 1)
            data[index] ^= 1 << rng.randrange(8)
        elif kind == 1 and data:  # an interesting byte
            data[min(where, len(data) - 1)] = rng.choice(INTERESTING_BYTES)
        elif kind == 2:  # insert a format token
            data[where:where] = rng.choice(self.tokens)
        elif kind == 3 and data:  # delete a range
            del data[where:where + rng.randrange(1, 64)]
        elif kind == 4 and data:  # repeat a range
            chunk = data[where:where + rng.randrange(1, 32)]
            data[where:where] = chunk * rng.randrange(1, 64)
        elif kind == 5:  # splice another seed in
            other = rng.choice(self.seeds)
            start = rng.randrange(len(other) + 1)
            data[where:where] = other[start:start + rng.randrange(1, 256)]
        elif kind == 6:  # random bytes
            data[where:where] = rng.randbytes(rng.randrange(1, 16))
        else:  # truncate
            del data[where:]
