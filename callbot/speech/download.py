"""Download one file: resumable (HTTP Range into ``NAME.part``), checked, then moved into place.

Blocking by design (urllib, no extra dependency): the CLI calls it directly, a server calls it
through ``asyncio.to_thread``. A transfer that stops halfway leaves the ``.part`` file, and the
next attempt asks only for the missing bytes. A file whose checksum does not match is deleted
and never reaches its destination.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from loguru import logger

CHUNK_BYTES = 1 << 16
_SIMPLE_BAR_INTERVAL_SEC = 0.25
_USER_AGENT = "callbot-model-manager"


class DownloadError(Exception):
    """The file could not be transferred (offline, refused, HTTP error, cut connection)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"could not download {url}: {reason}")
        self.url = url
        self.reason = reason


class ChecksumMismatch(Exception):
    """The downloaded bytes are not the ones the manifest describes; they were deleted."""


def file_digest(path: Path, algorithm: str = "sha256") -> str:
    with path.open("rb") as stream:
        return hashlib.file_digest(stream, algorithm).hexdigest()


def check_file(path: Path, *, sha256: str | None = None, md5: str | None = None,
               size: int | None = None, name: str | None = None) -> str | None:
    """None if ``path`` matches what is expected, else what is wrong (one sentence)."""
    name = name or path.name
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        return f"{name} is {actual_size} bytes, the manifest says {size}"
    for algorithm, expected in (("sha256", sha256), ("md5", md5)):
        if expected:
            actual = file_digest(path, algorithm)
            if actual != expected.lower():
                return f"{algorithm} of {name} is {actual}, the manifest says {expected}"
    return None


class _Bar(Protocol):
    def update(self, n: int) -> object: ...


class _SimpleBar:
    """A one-line progress bar on stderr for when tqdm is not installed."""

    def __init__(self, label: str, total: int | None, initial: int) -> None:
        self.label, self.total, self.done = label, total, initial
        self._shown_at = 0.0

    def update(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._shown_at >= _SIMPLE_BAR_INTERVAL_SEC:
            self._shown_at = now
            self._show()

    def _show(self) -> None:
        mb = self.done / 1e6
        if self.total:
            share = self.done / self.total
            bar = "#" * int(share * 30)
            text = f"\r{self.label} [{bar:<30}] {share:4.0%} {mb:.1f}/{self.total / 1e6:.1f} MB"
        else:
            text = f"\r{self.label} {mb:.1f} MB"
        sys.stderr.write(text)
        sys.stderr.flush()

    def close(self) -> None:
        self._show()
        sys.stderr.write("\n")


class _NullBar:
    def update(self, n: int) -> None:
        pass


@contextmanager
def _progress(label: str, total: int | None, initial: int, enabled: bool) -> Iterator[_Bar]:
    if not enabled:
        yield _NullBar()
        return
    try:
        from tqdm import tqdm
    except ImportError:
        bar = _SimpleBar(label, total, initial)
        try:
            yield bar
        finally:
            bar.close()
        return
    with tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
              desc=label, file=sys.stderr, leave=True) as bar:
        yield bar



def _range_total(response: http.client.HTTPResponse, offset: int) -> int | None:
    """Total file size from ``Content-Range`` (206) or ``Content-Length`` (200)."""
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return int(length) + offset if length is not None else None


def _transfer(url: str, part: Path, offset: int, timeout_sec: float, label: str,
              progress: bool) -> None:
    headers = {"User-Agent": _USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_sec) as response:
            if offset and response.status != 206:
                logger.info("{} ignored the range request: starting over", url)
                offset = 0
            total = _range_total(response, offset)
            with part.open("ab" if offset else "wb") as out, \
                    _progress(label, total, offset, progress) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    bar.update(len(chunk))
            received = part.stat().st_size
            if total is not None and received < total:
                raise DownloadError(url, f"the connection closed after {received} of {total} bytes; "
                                         f"run the same command again to resume")
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:
            return  # nothing left to send: the .part file is already whole (the checksum decides)
        raise DownloadError(url, f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise DownloadError(url, str(exc.reason)) from exc
    except (http.client.HTTPException, OSError) as exc:
        kept = part.stat().st_size if part.exists() else 0
        raise DownloadError(url, f"{type(exc).__name__}: {exc} ({kept} bytes kept in {part.name}; "
                                 f"run the same command again to resume)") from exc


def download_file(url: str, dest: Path, *, sha256: str | None = None, md5: str | None = None,
                  size: int | None = None, timeout_sec: float = 30.0, progress: bool = True,
                  label: str | None = None) -> Path:
    """Fetch ``url`` to ``dest`` (resuming ``dest.part``), check it, move it into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    if dest.exists() and check_file(dest, sha256=sha256, md5=md5, size=size) is None:
        return dest
    offset = part.stat().st_size if part.exists() else 0
    if size is not None and offset > size:
        part.unlink()
        offset = 0
    if size is None or offset < size:
        _transfer(url, part, offset, timeout_sec, label or dest.name, progress)
    problem = check_file(part, sha256=sha256, md5=md5, size=size, name=dest.name)
    if problem:
        part.unlink()
        raise ChecksumMismatch(f"{problem}: the download from {url} was deleted and nothing was "
                               f"installed (a corrupted transfer, or the file changed upstream)")
    if not sha256 and not md5:
        logger.warning("{}: no checksum recorded in the manifest; the file is not verified", url)
    os.replace(part, dest)
    return dest
