"""Callbot: an open-source French telephone voicebot for town halls."""

__version__ = "0.1.0"
