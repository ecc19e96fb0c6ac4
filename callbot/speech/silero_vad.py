"""Silero VAD with one ONNX session per process: a call keeps only the model's recurrent state.

pipecat's ``SileroVADAnalyzer`` opens an ONNX Runtime session per analyzer, so per call. The
session holds nothing of the call (Silero's state and audio context are inputs and outputs
of each run, kept by ``SileroOnnxModel``), and ``InferenceSession.run`` is thread-safe, so
every call can share one. A call also skips the thread hop for audio too short to score
(a 20 ms phone frame is less than Silero's 32 ms window).
"""

from __future__ import annotations

from importlib import resources

import onnxruntime
from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADAnalyzer, VADParams, VADState

_MODEL = ("pipecat.audio.vad.data", "silero_vad.onnx")


def load_silero_session() -> onnxruntime.InferenceSession:
    """The Silero model shipped in pipecat-ai, on one CPU thread (as pipecat opens it)."""
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    path = resources.files(_MODEL[0]).joinpath(_MODEL[1])
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"],
                                        sess_options=options)


class _CallState(SileroOnnxModel):
    """``SileroOnnxModel`` around a session it does not own: only the call's state is its own."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:  # no super(): no new session
        self.session = session
        self.sample_rates = [8000, 16000]
        self.reset_states()


class SharedSileroVADAnalyzer(SileroVADAnalyzer):
    """One call's Silero VAD on the process's shared session."""

    def __init__(self, session: onnxruntime.InferenceSession, *, sample_rate: int | None = None,
                 params: VADParams | None = None) -> None:
        VADAnalyzer.__init__(self, sample_rate=sample_rate, params=params)  # skip the model load
        self._model = _CallState(session)
        self._windows_since_reset = 0
        self._low_confidence_windows = 0

    async def analyze_audio(self, buffer: bytes) -> VADState:
        # Frames are analysed one at a time per call, so the buffer is ours between awaits.
        if len(self._vad_buffer) + len(buffer) < self._vad_frames_num_bytes:
            self._vad_buffer += buffer
            return self._vad_state
        return await super().analyze_audio(buffer)

    @property
    def state(self) -> VADState:
        return self._vad_state

    @property
    def pause_sec(self) -> float:
        """How long the caller has been silent inside a turn: 0 unless the VAD is counting down
        to the end of the turn (``VADState.STOPPING``)."""
        if self._vad_state != VADState.STOPPING:
            return 0.0
        return self._vad_stopping_count * self._vad_frames / self.sample_rate
