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

# A document already read from these very bytes (doc_id, sha256), to spare extracting it again.
Known = Callable[[str, str], Document | None]


@dataclass(frozen=True)
class Skipped:
    doc_id: str
    reason: str


def decode(doc_id: str, raw: bytes, known: Known | None = None) -> Document | Skipped:
    """Bytes to a Document, or the reason it cannot be one."""
    digest = hashlib.sha256(raw).hexdigest()
    if known is not None and (doc := known(doc_id, digest)) is not None:
        return doc
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


def read_documents(
    docs_dir: Path, allow_empty: bool = False, known: Known | None = None
) -> tuple[list[Document], list[Skipped]]:
    """All readable documents of the folder, and the files skipped with a warning each."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for path in list_files(docs_dir):
        doc_id = path.relative_to(docs_dir).as_posix()
        try:
            result = decode(doc_id, path.read_bytes(), known)
        except OSError as exc:
            result = Skipped(doc_id, f"unreadable: {exc.strerror}")
        if isinstance(result, Skipped):
            log.warning("skipping %s: %s", doc_id, result.reason)
            skipped.append(result)
        else:
            docs.append(result)
    if not docs and not allow_empty:
        raise DocsError(
            f"docs folder '{docs_dir}' holds no readable documents "
            f"({', '.join(SUFFIXES)})" + (f" ({len(skipped)} skipped)" if skipped else "")
        )
    return docs, skipped
