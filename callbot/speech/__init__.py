"""Speech: Vosk recognition, Piper synthesis, and the model registry that finds their files."""
