"""Install, assemble and verify models: what ``callbot models fetch|verify`` and first runs do.

A model appears in ``models_dir/NAME`` all at once or not at all: files are downloaded into
``models_dir/.partial/NAME`` (kept between runs so downloads resume), checked, unpacked into a
sibling folder, recorded (sha256 of every file), and only then renamed into place.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path, PurePosixPath

from loguru import logger

from callbot.config import Settings
from callbot.speech.download import (
    ChecksumMismatch,
    DownloadError,
    check_file,
    download_file,
    file_digest,
)
from callbot.speech.models import locate, missing_message, resolve_model
from callbot.speech.placing import swap_into_place, write_record
from callbot.speech.registry import (
    INSTALL_RECORD,
    ModelError,
    ModelMissing,
    ModelSpec,
    install_dir,
    load_registry,
    looks_like_path,
    models_dir,
)

_SYMLINK_MODE = 0o120000
_FILE_TYPE_MASK = 0o170000


class UnsafeArchive(ModelError):
    """A zip member would land outside the model folder (or is a link); nothing was installed."""


class ModelUnavailable(ModelMissing):
    """The model is missing and could not be downloaded; the message says what to do by hand."""


def _member_parts(member: zipfile.ZipInfo, archive: Path) -> tuple[str, ...]:
    name = member.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or ".." in parts or (parts and ":" in parts[0]):
        raise UnsafeArchive(f"{archive.name}: member {member.filename!r} would be written outside "
                            f"the model folder; the archive was refused and nothing was installed")
    if (member.external_attr >> 16) & _FILE_TYPE_MASK == _SYMLINK_MODE:
        raise UnsafeArchive(f"{archive.name}: member {member.filename!r} is a symbolic link; "
                            f"the archive was refused and nothing was installed")
    return parts


def safe_unzip(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest``, dropping a single top-level folder; refuse ``..`` paths."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [(m, _member_parts(m, archive)) for m in zipped.infolist()]
            roots = {parts[0] for _, parts in members if parts}
            strip = len(roots) == 1 and all(len(p) > 1 or m.is_dir() for m, p in members if p)
            base = dest.resolve()
            for member, parts in members:
                relative = parts[1:] if strip else parts
                if not relative:
                    continue
                target = dest.joinpath(*relative)
                if not target.resolve().is_relative_to(base):
                    raise UnsafeArchive(f"{archive.name}: member {member.filename!r} escapes the "
                                        f"model folder; nothing was installed")
                if member.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{archive.name} is not a valid zip archive ({exc}); nothing was "
                         f"installed") from exc


def fetch_model(spec: ModelSpec, settings: Settings, *, force: bool = False,
                progress: bool = True) -> Path:
    """Download, check, unpack and install ``spec``; returns what ``resolve_model`` would."""
    if spec.source == "package":
        found = locate(spec, settings)
        if found is None:
            raise ModelMissing(missing_message(spec, settings))
        return found
    target = install_dir(spec, settings)
    if not force and spec.looks_ready(target):
        return spec.entry_point(target)
    staging = models_dir(settings) / ".partial" / spec.name
    ready = staging.with_name(f"{spec.name}.ready")
    sources: list[dict[str, object]] = []
    for remote in spec.files:
        if not remote.url:
            continue
        dest = staging / remote.filename
        try:
            download_file(remote.url, dest, sha256=remote.sha256, md5=remote.md5, size=remote.size,
                          timeout_sec=settings.models.download_timeout_sec, progress=progress,
                          label=remote.filename)
        except DownloadError as exc:
            raise ModelUnavailable(f"Could not download {exc.url} ({exc.reason}): this machine "
                                   f"is offline or cannot reach that host. "
                                   f"{missing_message(spec, settings)}") from exc
        except ChecksumMismatch as exc:
            raise ModelError(f"{spec.name}: {exc}") from exc
        sources.append({"url": remote.url, "file": remote.filename, "sha256": file_digest(dest),
                        "checked_against": remote.checksum_text})
    shutil.rmtree(ready, ignore_errors=True)
    ready.mkdir(parents=True)
    try:
        for remote in spec.files:
            if remote.url and remote.unpack == "zip":
                safe_unzip(staging / remote.filename, ready)
            elif remote.url:
                shutil.copy2(staging / remote.filename, ready / remote.filename)
        if not spec.looks_ready(ready):
            raise ModelError(f"{spec.name}: the downloaded files do not look like a {spec.engine} "
                             f"model (see `callbot models list`); nothing was installed")
        write_record(ready, spec, sources)
        target.parent.mkdir(parents=True, exist_ok=True)
        swap_into_place(ready, target)
    except ModelError:
        shutil.rmtree(ready, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)  # a refused archive is not worth resuming
        raise
    except BaseException:
        shutil.rmtree(ready, ignore_errors=True)
        raise
    shutil.rmtree(staging, ignore_errors=True)
    logger.info("installed {} in {}", spec.name, target)
    return spec.entry_point(target)


def ensure_model(name_or_path: str, settings: Settings, *, progress: bool = True) -> Path:
    """``resolve_model``, downloading a missing model first (``callbot serve`` on a first run).

    Blocking: from the event loop, call it through ``asyncio.to_thread``.
    """
    try:
        return resolve_model(name_or_path, settings)
    except ModelMissing:
        if looks_like_path(name_or_path):
            raise
        spec = load_registry(settings).require(name_or_path)
        if spec.source == "package":
            raise
        return fetch_model(spec, settings, progress=progress)


class Verdict(StrEnum):
    OK = "ok"
    BAD = "BAD"
    UNCHECKED = "unchecked"
    MISSING = "missing"


@dataclass(frozen=True)
class VerifyResult:
    name: str
    verdict: Verdict
    detail: str
    path: Path | None = None


def _check_against_record(directory: Path) -> tuple[list[str], int] | None:
    record_path = directory / INSTALL_RECORD
    if not record_path.is_file():
        return None
    files: dict[str, str] = json.loads(record_path.read_text(encoding="utf-8"))["files"]
    bad = [name for name, digest in files.items()
           if not (directory / name).is_file() or file_digest(directory / name) != digest]
    return bad, len(files)


def _package_record_problems(spec: ModelSpec) -> tuple[list[str], int]:
    """Files of the packages' wheels whose sha256 differs from the wheel's RECORD."""
    import base64
    import importlib.metadata

    bad, checked = [], 0
    prefixes = tuple(p.rstrip("/") + "/" for p in spec.package_paths)
    for package in spec.packages:
        for entry in importlib.metadata.files(package) or []:
            if entry.hash is None or not str(entry).startswith(prefixes):
                continue
            checked += 1
            path = Path(str(entry.locate()))
            expected = base64.urlsafe_b64decode(entry.hash.value + "==").hex()
            if not path.is_file() or file_digest(path, entry.hash.mode) != expected:
                bad.append(str(entry))
    return bad, checked


def verify_model(spec: ModelSpec, settings: Settings) -> VerifyResult:
    """Check an installed model's files against the manifest, the install record or RECORD."""
    path = locate(spec, settings)
    if path is None:
        return VerifyResult(spec.name, Verdict.MISSING, "not installed", None)
    if spec.source == "package":
        bad, checked = _package_record_problems(spec)
        detail = f"{checked} file(s) match the sha256 of their wheel's RECORD"
        joined = _check_against_record(install_dir(spec, settings))
        if joined is not None:
            bad += joined[0]
            detail += f"; the joined copy in {install_dir(spec, settings)} matches its record"
        if bad:
            return VerifyResult(spec.name, Verdict.BAD, f"corrupt: {', '.join(bad)}", path)
        return VerifyResult(spec.name, Verdict.OK, detail, path)
    directory = install_dir(spec, settings)
    problems, checked_by = [], []
    for remote in spec.files:
        installed = directory / remote.filename
        if remote.unpack or not installed.is_file():
            continue
        if remote.sha256 or remote.md5:
            problem = check_file(installed, sha256=remote.sha256, md5=remote.md5, size=remote.size)
            problems += [problem] if problem else []
            checked_by.append("sha256" if remote.sha256 else "md5 (no sha256 recorded)")
    record = _check_against_record(directory)
    if record is not None:
        problems += [f"{name} changed since it was installed" for name in record[0]]
    if problems:
        return VerifyResult(spec.name, Verdict.BAD, "; ".join(problems), path)
    if checked_by:
        return VerifyResult(spec.name, Verdict.OK, f"matches the manifest's {checked_by[0]}", path)
    if record is not None:
        return VerifyResult(spec.name, Verdict.OK,
                            f"no checksum recorded in the manifest; the {record[1]} files match "
                            f"the sha256 taken when they were installed", path)
    return VerifyResult(spec.name, Verdict.UNCHECKED,
                        "no checksum recorded (put there by hand, no install record)", path)
