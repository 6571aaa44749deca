"""Find, verify and (if allowed) download the registered data files.

Lookup order for a file: the folder in ``NNGRADE_DATA_DIR`` if set, then the per-user cache
(``<cache root>/data``, the root being ``NNGRADE_CACHE_DIR`` or platformdirs' user cache dir),
then the copy that ships inside this package (``insurance.csv`` does). Only a copy whose
sha256 matches the registry is ever used. A file found nowhere is downloaded into the cache
unless ``NNGRADE_OFFLINE`` is set, which the grader does so that grading never touches the
network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import platformdirs

from nngrade.config import APP_NAME, ENV_CACHE_DIR, ENV_DATA_DIR, ENV_OFFLINE
from nngrade.errors import DatasetError

from .registry import DATA_FILES, DataFile

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_TIMEOUT = 30.0

# Hashing on every load would dominate repeated loads in one grading run; a file whose path,
# mtime and size are unchanged is taken to have the digest we computed before.
_digests: dict[tuple[str, int, int], str] = {}


def _env(name: str) -> str | None:
    # An empty value is what `VAR= command` leaves behind; it means "unset", not "cwd".
    return os.environ.get(name) or None


def offline() -> bool:
    """Whether ``NNGRADE_OFFLINE`` forbids downloading (any value but empty, 0, false, no)."""
    return (_env(ENV_OFFLINE) or "0").strip().lower() not in ("0", "false", "no", "off")


def cache_dir() -> Path:
    """The folder downloaded data files go to: ``<NNGRADE_CACHE_DIR or user cache>/data``."""
    root = _env(ENV_CACHE_DIR) or platformdirs.user_cache_dir(APP_NAME)
    return Path(root).expanduser().absolute() / "data"


def packaged(entry: DataFile) -> Path:
    """Where the package's own copy of a data file is (it may not ship one)."""
    return Path(__file__).resolve().parent / entry.filename


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, entry: DataFile) -> Path:
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _digests:
        _digests[key] = _sha256_file(path)
    found = _digests[key]
    if found != entry.sha256:
        raise DatasetError(
            f"{entry.filename} at {path} does not match its checksum: expected sha256 "
            f"{entry.sha256}, found {found}. It was not used; delete it or replace it with "
            f"the file from {entry.url}."
        )
    return path


def _fetch(url: str, timeout: float) -> bytes:
    """Download ``url`` and return its body; the one place that touches the network."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.read()


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc) or type(exc).__name__


def _unavailable(entry: DataFile, reason: str) -> DatasetError:
    target = cache_dir() / entry.filename
    data_dir = _env(ENV_DATA_DIR)
    looked = f" (it is not in {ENV_DATA_DIR}={data_dir} either)" if data_dir else ""
    return DatasetError(
        f"{entry.filename} is not available: {reason}{looked}. Download it yourself from "
        f"{entry.url} and put it at {target}, or set {ENV_DATA_DIR} to a folder that holds it."
    )


def _download(entry: DataFile, timeout: float) -> Path:
    try:
        body = _fetch(entry.url, timeout)
    except (OSError, http.client.HTTPException) as exc:
        # URLError, HTTPError, socket timeouts and resets are all OSError subclasses.
        raise _unavailable(entry, f"could not download {entry.url} ({_reason(exc)})") from exc
    found = hashlib.sha256(body).hexdigest()
    if found != entry.sha256:
        # Checked before anything is written, so a bad download never lands in the cache.
        raise _unavailable(
            entry,
            f"the file downloaded from {entry.url} does not match its checksum "
            f"(expected sha256 {entry.sha256}, found {found}); nothing was saved",
        )
    target = cache_dir() / entry.filename
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # Same folder as the target so the rename is atomic: readers in other processes see
        # either no file or the whole verified file, never a partial one.
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{entry.filename}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(body)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise _unavailable(entry, f"could not save the download ({exc})") from exc
    return _verify(target, entry)


def data_path(name: str, *, download: bool = True, timeout: float = DEFAULT_TIMEOUT) -> Path:
    """Return the local path of the verified data file registered as ``name``.

    Looks in ``NNGRADE_DATA_DIR`` first, then in the user cache, then in the package; downloads
    into the cache if the file is in none of them, ``download`` is true and ``NNGRADE_OFFLINE``
    is not set.

    Raises:
        DatasetError: the name is unknown, a local copy has the wrong checksum, or the file
            is missing and cannot be downloaded (the message says where to put it).
    """
    try:
        entry = DATA_FILES[name]
    except KeyError as exc:
        known = ", ".join(sorted(DATA_FILES))
        raise DatasetError(f"no data file named {name!r}; known: {known}") from exc
    candidates = [cache_dir() / entry.filename, packaged(entry)]
    data_dir = _env(ENV_DATA_DIR)
    if data_dir:
        candidates.insert(0, Path(data_dir).expanduser().absolute() / entry.filename)
    for path in candidates:
        if path.is_file():
            # A bad copy is an error, not a miss: silently falling through to another copy
            # would hide a corrupted shared folder from the instructor.
            return _verify(path, entry)
    if offline():
        raise _unavailable(entry, f"{ENV_OFFLINE} is set, so it was not downloaded")
    if not download:
        raise _unavailable(entry, "downloading was not allowed (download=False)")
    return _download(entry, timeout)


def load_insurance() -> pd.DataFrame:
    """Load the medical insurance data: 1338 rows of age, sex, bmi, children, smoker, region,
    charges (see ``DATA_FILES["insurance"]``)."""
    import pandas as pd  # here, not at import: the grader finds data files without pandas

    return pd.read_csv(data_path("insurance"))
