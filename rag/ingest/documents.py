"""Reads a docs folder: .txt and .md files, doc_id = path relative to the folder."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from rag.errors import DocsError
from rag.types import Document

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md")


@dataclass(frozen=True)
class Skipped:
    doc_id: str
    reason: str


def decode(doc_id: str, raw: bytes) -> Document | Skipped:
    """Bytes to a Document, or the reason it cannot be one.

    Newlines are normalised as Python's text mode does, so offsets match `Path.read_text()`.
    """
    if b"\x00" in raw[:8192]:
        return Skipped(doc_id, "binary file (contains NUL bytes)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Skipped(doc_id, f"not UTF-8 (byte {exc.start}); re-save it as UTF-8")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.strip():
        return Skipped(doc_id, "empty")
    return Document(doc_id=doc_id, text=text, content_hash=hashlib.sha256(raw).hexdigest())


def list_files(docs_dir: Path) -> list[Path]:
    """The candidate files under docs_dir, sorted; hidden files and folders are ignored."""
    if not docs_dir.is_dir():
        raise DocsError(
            f"docs folder '{docs_dir}' does not exist; create it and put .txt or .md files in it, "
            "or pass --docs DIR"
        )
    return sorted(
        p
        for p in docs_dir.rglob("*")
        if p.suffix.lower() in SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(docs_dir).parts)
    )


def read_documents(
    docs_dir: Path, allow_empty: bool = False
) -> tuple[list[Document], list[Skipped]]:
    """All readable documents of the folder, and the files skipped with a warning each."""
    docs: list[Document] = []
    skipped: list[Skipped] = []
    for path in list_files(docs_dir):
        doc_id = path.relative_to(docs_dir).as_posix()
        try:
            result = decode(doc_id, path.read_bytes())
        except OSError as exc:
            result = Skipped(doc_id, f"unreadable: {exc.strerror}")
        if isinstance(result, Skipped):
            log.warning("skipping %s: %s", doc_id, result.reason)
            skipped.append(result)
        else:
            docs.append(result)
    if not docs and not allow_empty:
        raise DocsError(
            f"docs folder '{docs_dir}' holds no readable .txt or .md documents"
            + (f" ({len(skipped)} skipped)" if skipped else "")
        )
    return docs, skipped
