"""G.711 µ-law / A-law ↔ 16-bit PCM, for bridges whose peers speak telephone codecs."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # stdlib until 3.13; pipecat relies on it as well

SAMPLE_WIDTH = 2


def decode(payload: bytes, codec: str) -> bytes:
    """Codec bytes → PCM16; ``slin`` is passed through."""
    if codec == "ulaw":
        return audioop.ulaw2lin(payload, SAMPLE_WIDTH)
    if codec == "alaw":
        return audioop.alaw2lin(payload, SAMPLE_WIDTH)
    return payload


def encode(pcm: bytes, codec: str) -> bytes:
    if codec == "ulaw":
        return audioop.lin2ulaw(pcm, SAMPLE_WIDTH)
    if codec == "alaw":
        return audioop.lin2alaw(pcm, SAMPLE_WIDTH)
    return pcm
