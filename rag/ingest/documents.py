"""Reads a docs folder: .txt, .md, .html, .pdf and .docx files (rag/ingest/formats.py), doc_id =
path relative to the folder."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
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


def list_files(docs_dir: Path) -> list[tuple[str, os.stat_result]]:
    """(doc_id, stat) of the candidate files under docs_dir, sorted; hidden files and folders
    are ignored."""
    if not docs_dir.is_dir():
        raise DocsError(
            f"docs folder '{docs_dir}' does not exist; create it and put documents in it "
            f"({', '.join(SUFFIXES)}), or pass --docs DIR"
        )
    found = []
    for root, dirs, files in os.walk(docs_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = os.path.relpath(root, docs_dir)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        for name in files:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in SUFFIXES:
                continue
            try:
                st = os.stat(os.path.join(root, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                found.append((prefix + name, st))
    return sorted(found, key=lambda f: f[0])


# What tells a file unchanged since it was indexed: (sha256, size, mtime in ns).
Known = Mapping[str, tuple[str, int, int]]


@dataclass
class Scan:
    docs: list[Document]  # new or changed since indexed: read and extracted
    unchanged: list[str]  # doc_ids of files with the bytes indexed: not extracted
    skipped: list[Skipped]
    stats: dict[str, tuple[int, int]] = field(default_factory=dict)  # doc_id: (size, mtime)
    touched: list[str] = field(default_factory=list)  # unchanged, but their stat is not


def scan_documents(docs_dir: Path, known: Known | None = None, allow_empty: bool = False) -> Scan:
    """The documents of the folder and the files skipped with a warning each. A file `known`
    with the same size and modification time is taken as unchanged without reading it (as git
    and rsync do); one whose bytes have the known hash is unchanged too."""
    scan = Scan([], [], [])
    for doc_id, st in list_files(docs_dir):
        scan.stats[doc_id] = (st.st_size, st.st_mtime_ns)
        was = (known or {}).get(doc_id)
        if was is not None and was[1:] == scan.stats[doc_id]:
            scan.unchanged.append(doc_id)
            continue
        try:
            raw = (docs_dir / doc_id).read_bytes()
        except OSError as exc:
            result: Document | Skipped = Skipped(doc_id, f"unreadable: {exc.strerror}")
        else:
            digest = hashlib.sha256(raw).hexdigest()
            if was is not None and was[0] == digest:
                scan.unchanged.append(doc_id)
                scan.touched.append(doc_id)
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
