"""Model registry: which speech models exist (the TOML manifests) and where each one goes.

The manifests name every model, its engine, its files with their checksums, and whether it
is downloaded or shipped by PyPI packages; ``callbot.speech.models`` finds a ready copy.
"""

from __future__ import annotations

import importlib.util
import tomllib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from callbot.config import Settings

INSTALL_RECORD = ".callbot-install.json"
KINDS = frozenset({"stt", "tts"})
ENGINES = frozenset({"vosk", "piper", "whisper"})
SOURCES = frozenset({"download", "package"})
_MODEL_KEYS = frozenset({"name", "aliases", "kind", "engine", "language", "sample_rate", "source",
                         "note", "files", "packages", "package_paths"})
_FILE_KEYS = frozenset({"url", "path", "sha256", "md5", "size", "approx_size", "unpack"})


class ModelError(ValueError):
    """A model cannot be used; the message says what to do about it.

    A ``ValueError`` (a configured value that cannot be honoured) so that ``callbot …`` prints
    it as one line and exits 2, without a traceback.
    """


class ModelMissing(ModelError):
    """The model is neither configured by path, installed, nor shipped by an installed package."""


@dataclass(frozen=True)
class FileSpec:
    """One file of a model: downloaded from ``url``, or (package models) checked at ``path``."""

    url: str | None = None
    path: str | None = None
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    approx_size: int | None = None
    unpack: str | None = None

    @property
    def filename(self) -> str:
        """Name in the model's folder: ``path`` if given, else the last segment of the URL."""
        if self.path:
            return self.path
        return PurePosixPath((self.url or "").split("?", 1)[0]).name

    @property
    def checksum_text(self) -> str:
        if self.sha256:
            return f"sha256 {self.sha256}"
        if self.md5:
            return f"md5 {self.md5}, no sha256 recorded"
        return "no checksum recorded"


@dataclass(frozen=True)
class ModelSpec:
    """One manifest entry."""

    name: str
    kind: str
    engine: str
    language: str
    sample_rate: int
    source: str
    manifest: Path
    files: tuple[FileSpec, ...] = ()
    packages: tuple[str, ...] = ()
    package_paths: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()
    note: str = ""

    @property
    def size_bytes(self) -> int | None:
        """Total download size when every file's exact size is known."""
        sizes = [f.size for f in self.files if f.url]
        return sum(sizes) if sizes and None not in sizes else None  # type: ignore[arg-type]

    @property
    def approx_size_bytes(self) -> int | None:
        sizes = [f.size or f.approx_size for f in self.files if f.url]
        return sum(sizes) if sizes and None not in sizes else None  # type: ignore[arg-type]

    def entry_point(self, directory: Path) -> Path:
        """What the engine loads: the voice's ``.onnx`` for Piper, the folder otherwise."""
        return directory / f"{self.name}.onnx" if self.engine == "piper" else directory

    def looks_ready(self, directory: Path) -> bool:
        """Whether ``directory`` holds a usable copy (installed by us or put there by hand)."""
        if self.engine == "piper":
            onnx = self.entry_point(directory)
            return onnx.is_file() and onnx.with_name(onnx.name + ".json").is_file()
        if self.engine == "whisper":
            return (directory / "model.bin").is_file()
        return (directory / "conf" / "model.conf").is_file() or (directory / "am").is_dir()

    @property
    def description(self) -> str:
        what = {"vosk": "Vosk model", "piper": "Piper voice", "whisper": "Whisper model"}[self.engine]
        return f"{what} {self.name!r} ({self.kind}, {self.language}, {self.sample_rate} Hz)"


def _problem(manifest: Path, where: str, message: str) -> ValueError:
    return ValueError(f"{manifest}: {where}: {message}; fix the manifest (docs/speech-models.md, 'Models')")


def _parse_file(manifest: Path, where: str, raw: object) -> FileSpec:
    if not isinstance(raw, dict):
        raise _problem(manifest, where, "each entry of 'files' must be a table")
    unknown = set(raw) - _FILE_KEYS
    if unknown:
        raise _problem(manifest, where, f"unknown key(s) {sorted(unknown)}")
    spec = FileSpec(**raw)
    if not spec.url and not spec.path:
        raise _problem(manifest, where, "a file needs 'url' (to download) or 'path'")
    if spec.unpack not in (None, "zip"):
        raise _problem(manifest, where, f"unpack = {spec.unpack!r}: only 'zip' is supported")
    return spec


def _parse_model(manifest: Path, index: int, raw: dict[str, object]) -> ModelSpec:
    where = f"model #{index + 1} ({raw.get('name', '?')})"
    unknown = set(raw) - _MODEL_KEYS
    if unknown:
        raise _problem(manifest, where, f"unknown key(s) {sorted(unknown)}")
    missing = {"name", "kind", "engine", "language", "sample_rate", "source"} - set(raw)
    if missing:
        raise _problem(manifest, where, f"missing key(s) {sorted(missing)}")
    for key, allowed in (("kind", KINDS), ("engine", ENGINES), ("source", SOURCES)):
        if raw[key] not in allowed:
            raise _problem(manifest, where, f"{key} = {raw[key]!r}, expected one of {sorted(allowed)}")
    files = tuple(_parse_file(manifest, where, f) for f in raw.get("files", []))  # type: ignore[union-attr]
    spec = ModelSpec(
        name=str(raw["name"]), kind=str(raw["kind"]), engine=str(raw["engine"]),
        language=str(raw["language"]), sample_rate=int(raw["sample_rate"]),  # type: ignore[call-overload]
        source=str(raw["source"]), manifest=manifest, files=files,
        packages=tuple(raw.get("packages", ())), package_paths=tuple(raw.get("package_paths", ())),  # type: ignore[arg-type]
        aliases=tuple(raw.get("aliases", ())), note=str(raw.get("note", "")))  # type: ignore[arg-type]
    if spec.source == "download" and not any(f.url for f in files):
        raise _problem(manifest, where, "source = 'download' needs at least one file with a url")
    if spec.source == "package" and (not spec.packages or not spec.package_paths):
        raise _problem(manifest, where, "source = 'package' needs 'packages' and 'package_paths'")
    return spec


@dataclass(frozen=True)
class Registry:
    """Every model of every manifest, looked up by name or alias."""

    models: tuple[ModelSpec, ...]

    @classmethod
    def load(cls, manifests: list[Path]) -> Registry:
        models: list[ModelSpec] = []
        for manifest in manifests:
            try:
                data = tomllib.loads(manifest.read_text(encoding="utf-8"))
            except FileNotFoundError:
                raise ValueError(f"model manifest {manifest} does not exist "
                                 "(setting models.manifests)") from None
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"{manifest}: not valid TOML: {exc}") from None
            models += [_parse_model(manifest, i, raw) for i, raw in enumerate(data.get("model", []))]
        names = [n for m in models for n in (m.name, *m.aliases)]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"model name(s) {duplicated} appear twice in {manifests}")
        return cls(tuple(models))

    def get(self, name: str) -> ModelSpec | None:
        return next((m for m in self.models if name in (m.name, *m.aliases)), None)

    def require(self, name: str) -> ModelSpec:
        spec = self.get(name)
        if spec is None:
            known = ", ".join(m.name for m in self.models)
            raise ModelMissing(f"unknown model {name!r}: it is not a path and no manifest lists it "
                               f"(known: {known}); give a path, or add it to a manifest")
        return spec


def load_registry(settings: Settings) -> Registry:
    return Registry.load(list(settings.models.manifests))


def models_dir(settings: Settings) -> Path:
    return settings.models.models_dir.expanduser()


def install_dir(spec: ModelSpec, settings: Settings) -> Path:
    """Where a downloadable model lives once installed: ``models_dir/NAME``."""
    return models_dir(settings) / spec.name


def looks_like_path(name_or_path: str) -> bool:
    """A configured value is a path if it has a slash, starts with ``~`` or ``.``, or is a file."""
    return ("/" in name_or_path or "\\" in name_or_path or name_or_path.startswith(("~", "."))
            or name_or_path.endswith((".onnx", ".zip")))


def package_root(package_path: str) -> Path | None:
    """``import_name/sub/dir`` → that folder inside the installed package, without importing it."""
    top, _, rest = package_path.partition("/")
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    root = Path(next(iter(found.submodule_search_locations))) / rest
    return root if root.exists() else None


def package_roots(spec: ModelSpec) -> list[Path] | None:
    """The folders of a package model, or None if one of its packages is not installed."""
    roots = [package_root(p) for p in spec.package_paths]
    return None if None in roots else roots  # type: ignore[return-value]
