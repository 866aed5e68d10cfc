"""Reads a docs folder: .txt, .md, .html, .pdf and .docx files (rag/ingest/formats.py), doc_id =
path relative to the folder."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from rag.errors import DocsError
from rag.ingest.formats import SUFFIXES, extract
from rag.types import Document

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Skipped:
    doc_id: str
    reason: str


def decode(doc_id: str, raw: bytes, digest: str | None = None) -> Document | Skipped:
    """Bytes to a Document, or the reason it cannot be one."""
    digest = digest or hashlib.sha256(raw).hexdigest()
    result = extract(PurePosixPath(doc_id).suffix, raw)
    if isinstance(result, str):
        return Skipped(doc_id, result)
    return Document(doc_id=doc_id, text=result.text, content_hash=digest, pages=result.pages)


def list_files(docs_dir: Path) -> list[Path]:
    """The candidate files under docs_dir, sorted; hidden files and folders are ignored."""
    if not docs_dir.is_dir():
        raise DocsError(
            f"docs folder '{docs_dir}' does not exist; create it and put documents in it "
            f"({', '.join(SUFFIXES)}), or pass --docs DIR"
        )
    return sorted(
        p
        for p in docs_dir.rglob("*")
        if p.suffix.lower() in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(docs_dir).parts)
    )


@dataclass
class Scan:
    docs: list[Document]  # new or changed since indexed: read and extracted
    unchanged: list[str]  # doc_ids of files whose bytes are those indexed: not extracted
    skipped: list[Skipped]


def scan_documents(
    docs_dir: Path, indexed: Callable[[str, str], bool] | None = None, allow_empty: bool = False
) -> Scan:
    """The documents of the folder, the files skipped with a warning each, and (given
    `indexed(doc_id, sha256)`) the files already indexed with these very bytes."""
    scan = Scan([], [], [])
    for path in list_files(docs_dir):
        doc_id = path.relative_to(docs_dir).as_posix()
        try:
            raw = path.read_bytes()
        except OSError as exc:
            result: Document | Skipped = Skipped(doc_id, f"unreadable: {exc.strerror}")
        else:
            digest = hashlib.sha256(raw).hexdigest()
            if indexed is not None and indexed(doc_id, digest):
                scan.unchanged.append(doc_id)
                continue
            result = decode(doc_id, raw, digest)
        if isinstance(result, Skipped):
            log.warning("skipping %s: %s", doc_id, result.reason)
            scan.skipped.append(result)
        else:
            scan.docs.append(result)
    if not scan.docs and not scan.unchanged and not allow_empty:
        raise DocsError(
            f"docs folder '{docs_dir}' holds no readable documents "
            f"({', '.join(SUFFIXES)})" + (f" ({len(scan.skipped)} skipped)" if scan.skipped else "")
        )
    return scan


def read_documents(
    docs_dir: Path, allow_empty: bool = False
) -> tuple[list[Document], list[Skipped]]:
    """All readable documents of the folder, and the files skipped with a warning each."""
    scan = scan_documents(docs_dir, None, allow_empty)
    return scan.docs, scan.skipped
