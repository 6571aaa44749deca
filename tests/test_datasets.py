"""The data registry and loader: lookup order, checksums, downloads, and the offline switch.

No test touches the network: every test replaces the download seam, and every test that could
write points NNGRADE_CACHE_DIR into tmp_path.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import shutil
import urllib.error
from pathlib import Path

import pytest

from nngrade.datasets import DATA_FILES, DataFile, data_path, load_insurance
from nngrade.datasets import loader
from nngrade.errors import DatasetError

REPO = Path(__file__).resolve().parent.parent
ENTRY = DATA_FILES["insurance"]
REAL_FILE = loader.packaged(ENTRY)  # the copy that ships inside the package
REAL_FETCH = loader._fetch  # the autouse fixture replaces the seam in every test
COLUMNS = ["age", "sex", "bmi", "children", "smoker", "region", "charges"]


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A clean environment: no data dir, online, the cache in tmp_path, no network."""
    monkeypatch.delenv("NNGRADE_DATA_DIR", raising=False)
    monkeypatch.delenv("NNGRADE_OFFLINE", raising=False)
    monkeypatch.setenv("NNGRADE_CACHE_DIR", str(tmp_path / "cache-root"))
    monkeypatch.setattr(loader, "_digests", {})
    # the lookup and download tests run as if the package shipped no copy
    monkeypatch.setattr(loader, "packaged", lambda entry: tmp_path / "no-package" / entry.filename)

    def no_network(url: str, timeout: float) -> bytes:
        raise AssertionError(f"test tried to download {url}")

    monkeypatch.setattr(loader, "_fetch", no_network)
    return tmp_path


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache-root" / "data"


def put(folder: Path, data: bytes | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "insurance.csv"
    if data is None:
        shutil.copyfile(REAL_FILE, target)
    else:
        target.write_bytes(data)
    return target


def serve(monkeypatch: pytest.MonkeyPatch, body: bytes | Exception) -> list[tuple[str, float]]:
    calls: list[tuple[str, float]] = []

    def fake_fetch(url: str, timeout: float) -> bytes:
        calls.append((url, timeout))
        if isinstance(body, Exception):
            raise body
        return body

    monkeypatch.setattr(loader, "_fetch", fake_fetch)
    return calls


def test_the_packaged_copy_is_used_offline_when_nothing_else_has_the_file(monkeypatch) -> None:
    monkeypatch.undo()  # the real package, no data dir, no cache folder
    monkeypatch.delenv("NNGRADE_DATA_DIR", raising=False)
    monkeypatch.setenv("NNGRADE_OFFLINE", "1")
    monkeypatch.setenv("NNGRADE_CACHE_DIR", "/nonexistent/nngrade-cache")
    found = data_path("insurance")
    assert found == REAL_FILE and found.parent == Path(loader.__file__).resolve().parent
    assert len(load_insurance()) == 1338


def test_a_damaged_packaged_copy_is_refused(monkeypatch, tmp_path) -> None:
    bad = put(tmp_path / "pkg", b"age,charges\n1,2\n")
    monkeypatch.setattr(loader, "packaged", lambda entry: bad)
    with pytest.raises(DatasetError, match="does not match its checksum"):
        data_path("insurance")


def test_registry_pins_insurance_by_checksum_and_is_immutable() -> None:
    assert ENTRY.filename == "insurance.csv"
    assert ENTRY.sha256 == hashlib.sha256(REAL_FILE.read_bytes()).hexdigest()
    assert ENTRY.rows == 1338
    assert ENTRY.url.startswith("https://raw.githubusercontent.com/stedy/")
    assert isinstance(ENTRY, DataFile)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ENTRY.sha256 = "0" * 64  # type: ignore[misc]


def test_data_dir_is_found_before_the_cache(monkeypatch, tmp_path, cache) -> None:
    put(cache)
    shared = put(tmp_path / "shared")
    monkeypatch.setenv("NNGRADE_DATA_DIR", str(tmp_path / "shared"))
    assert data_path("insurance") == shared


def test_cache_is_used_when_data_dir_is_unset(cache) -> None:
    cached = put(cache)
    assert data_path("insurance") == cached


def test_cache_is_used_when_data_dir_lacks_the_file(monkeypatch, tmp_path, cache) -> None:
    cached = put(cache)
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("NNGRADE_DATA_DIR", str(tmp_path / "empty"))
    assert data_path("insurance") == cached


def test_wrong_checksum_raises_and_the_file_is_not_used(monkeypatch, tmp_path, cache) -> None:
    put(cache)  # a good copy exists, but the bad one comes first and must not be skipped
    bad = put(tmp_path / "shared", REAL_FILE.read_bytes() + b"\n1,male,1,1,no,x,1")
    monkeypatch.setenv("NNGRADE_DATA_DIR", str(tmp_path / "shared"))
    with pytest.raises(DatasetError) as info:
        data_path("insurance")
    message = str(info.value)
    assert "insurance.csv" in message and str(bad) in message
    assert ENTRY.sha256 in message
    assert hashlib.sha256(bad.read_bytes()).hexdigest() in message


def test_verification_is_cached_until_the_file_changes(monkeypatch, cache) -> None:
    path = put(cache)
    hashed: list[Path] = []
    real_hash = loader._sha256_file
    monkeypatch.setattr(loader, "_sha256_file", lambda p: hashed.append(p) or real_hash(p))
    data_path("insurance")
    data_path("insurance")
    assert hashed == [path]
    path.write_bytes(b"tampered")
    with pytest.raises(DatasetError, match="does not match its checksum"):
        data_path("insurance")
    assert len(hashed) == 2


@pytest.mark.parametrize("how", ["env", "argument"])
def test_missing_file_offline_names_file_url_and_cache_path(monkeypatch, cache, how) -> None:
    calls = serve(monkeypatch, REAL_FILE.read_bytes())
    if how == "env":
        monkeypatch.setenv("NNGRADE_OFFLINE", "1")
    with pytest.raises(DatasetError) as info:
        # Offline wins even over an explicit download=True.
        data_path("insurance", download=(how == "env"))
    message = str(info.value)
    assert "insurance.csv is not available" in message
    assert ENTRY.url in message
    assert str(cache / "insurance.csv") in message
    assert "NNGRADE_DATA_DIR" in message
    assert calls == []


def test_offline_still_reads_local_files(monkeypatch, cache) -> None:
    cached = put(cache)
    monkeypatch.setenv("NNGRADE_OFFLINE", "1")
    assert data_path("insurance", download=True) == cached


def test_download_lands_verified_in_the_cache_and_loads(monkeypatch, cache) -> None:
    calls = serve(monkeypatch, REAL_FILE.read_bytes())
    path = data_path("insurance")
    assert path == cache / "insurance.csv"
    assert path.read_bytes() == REAL_FILE.read_bytes()
    assert calls == [(ENTRY.url, loader.DEFAULT_TIMEOUT)]
    assert sorted(p.name for p in cache.iterdir()) == ["insurance.csv"]
    assert len(load_insurance()) == 1338
    assert len(calls) == 1  # the second lookup found the cached copy


def test_download_with_wrong_bytes_raises_and_leaves_nothing(monkeypatch, tmp_path) -> None:
    serve(monkeypatch, b"<html>rate limited</html>")
    with pytest.raises(DatasetError, match="does not match its checksum") as info:
        data_path("insurance")
    assert ENTRY.url in str(info.value)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize(
    "failure",
    [
        urllib.error.URLError("[Errno -3] Temporary failure in name resolution"),
        urllib.error.HTTPError(ENTRY.url, 404, "Not Found", None, io.BytesIO()),  # type: ignore[arg-type]
        TimeoutError("timed out"),
    ],
    ids=["dns", "http", "timeout"],
)
def test_network_failure_gives_the_offline_message(monkeypatch, cache, failure) -> None:
    serve(monkeypatch, failure)
    with pytest.raises(DatasetError) as info:
        data_path("insurance")
    message = str(info.value)
    assert f"insurance.csv is not available: could not download {ENTRY.url}" in message
    assert str(cache / "insurance.csv") in message
    assert "NNGRADE_DATA_DIR" in message
    assert not cache.exists()


def test_fetch_reads_through_urlopen_with_the_timeout(monkeypatch) -> None:
    seen: dict[str, object] = {}

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        seen.update(url=url, timeout=timeout)
        return io.BytesIO(b"body")

    monkeypatch.setattr(loader.urllib.request, "urlopen", fake_urlopen)
    assert REAL_FETCH("https://example.invalid/x", 7.5) == b"body"
    assert seen == {"url": "https://example.invalid/x", "timeout": 7.5}


def test_unknown_name_raises_dataset_error() -> None:
    with pytest.raises(DatasetError, match="insurance"):
        data_path("no-such-file")


def test_load_insurance_returns_the_full_table(monkeypatch) -> None:
    monkeypatch.setenv("NNGRADE_DATA_DIR", str(REAL_FILE.parent))
    monkeypatch.setenv("NNGRADE_OFFLINE", "1")
    frame = load_insurance()
    assert list(frame.columns) == COLUMNS
    assert len(frame) == 1338
    assert (frame["smoker"] == "no").sum() == 1064
