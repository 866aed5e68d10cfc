"""Reads a docs folder: .txt, .md, .html, .pdf and .docx files (rag/ingest/formats.py), doc_id =
path relative to the folder.

Nothing outside the folder is read: links (to files or folders, inside or outside it) are never
followed, and each is named in the skip report; a file is opened without following a link, so
one swapped in after the listing is refused too. Hidden files and folders are ignored. A name
that is not valid UTF-8 or holds control characters (a newline, an escape, a bidi override) is
skipped with its name shown escaped, so logs, ids and the page stay readable. A document with
no letter or digit in it (only punctuation or emoji) has nothing to search and is skipped.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
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
    doc_id: str  # for a name that cannot be an id (not UTF-8, control characters): escaped
    reason: str


NO_WORDS = "no words to index: it holds only punctuation, symbols or emoji"
_WORD = re.compile(r"[^\W_]")  # a letter or digit, of any script
# Characters that must not reach an id, a log line or the page as they are: C0/C1 controls
# (newline, tab, escape), line and paragraph separators, bidi embeddings, overrides and
# isolates (they can make "txt.exe" look like "exe.txt"), and the lone surrogates that stand
# for the bytes of a name that is not UTF-8 (surrogateescape).
_UNSHOWABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    c = match.group(0)
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as os.fsdecode keeps it
        return f"\\x{code - 0xDC00:02x}"
    named = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c)
    return named or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def readable_name(name: str, limit: int | None = None) -> str:
    """A file name as a person can read it on one line: control characters, bidi controls and
    bytes that are not UTF-8 shown as escapes (\\n, \\x1b, \\xff, \\u202e); longer than
    `limit`, its middle is left out ("…"), keeping the start and the extension in view."""
    shown = _UNSHOWABLE.sub(_escape, name)
    if limit is not None and len(shown) > limit:
        tail = max(limit // 3, 1)
        shown = shown[: limit - tail - 1] + "…" + shown[-tail:]
    return shown


def name_problem(name: str) -> str | None:
    """Why a path in the docs folder cannot be a document id, or None."""
    if re.search("[\udc80-\udcff]", name):
        return "its name is not valid UTF-8; rename the file"
    if _UNSHOWABLE.search(name):
        return "its name holds control characters (shown escaped); rename the file"
    return None


def decode(doc_id: str, raw: bytes, digest: str | None = None) -> Document | Skipped:
    """Bytes to a Document, or the reason it cannot be one."""
    digest = digest or hashlib.sha256(raw).hexdigest()
    result = extract(PurePosixPath(doc_id).suffix, raw)
    if isinstance(result, str):
        return Skipped(doc_id, result)
    if not _WORD.search(result.text):
        return Skipped(doc_id, NO_WORDS)
    return Document(doc_id=doc_id, text=result.text, content_hash=digest, pages=result.pages)


def _link_reason(path: str, docs_dir: str, folder: bool) -> str:
    """Why a link is skipped: links are never followed, wherever they point."""
    if not os.path.exists(path):
        return "a broken link; not followed"
    target = os.path.realpath(path)
    inside = os.path.commonpath([target, docs_dir]) == docs_dir
    if folder:
        return (
            "a link to a folder in the documents folder; not followed "
            "(its files are read where they are)"
            if inside
            else "a link to a folder outside the documents folder; not followed "
            "(copy the folder itself in)"
        )
    return (
        "a link to another file in the documents folder; not followed "
        "(that file is read under its own name)"
        if inside
        else "a link to a file outside the documents folder; not followed (copy the file itself in)"
    )


def list_files(docs_dir: Path) -> tuple[list[tuple[str, os.stat_result]], list[Skipped]]:
    """(doc_id, stat) of the candidate files under docs_dir, sorted, and what was left out with
    a reason: links, names that cannot be ids, files that are not regular files. Hidden files
    and folders, and files of other formats, are ignored without a word."""
    if not docs_dir.is_dir():
        raise DocsError(
            f"docs folder '{docs_dir}' does not exist; create it and put documents in it "
            f"({', '.join(SUFFIXES)}), or pass --docs DIR"
        )
    real_dir = os.path.realpath(docs_dir)
    found: list[tuple[str, os.stat_result]] = []
    skipped: list[Skipped] = []
    for root, dirs, files in os.walk(docs_dir):  # never into a linked folder (followlinks)
        rel = os.path.relpath(root, docs_dir)
        prefix = "" if rel == "." else rel.replace(os.sep, "/") + "/"
        kept = []
        for name in sorted(dirs):
            path = os.path.join(root, name)
            if name.startswith("."):
                continue
            if os.path.islink(path):
                reason = _link_reason(path, real_dir, folder=True)
            else:
                reason = name_problem(name) or ""
            if reason:
                skipped.append(Skipped(readable_name(prefix + name), reason))
            else:
                kept.append(name)
        dirs[:] = kept
        for name in files:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in SUFFIXES:
                continue
            path = os.path.join(root, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue  # gone since the listing
            problem = name_problem(name)
            if stat.S_ISLNK(st.st_mode):
                problem = _link_reason(path, real_dir, folder=False)
            elif not stat.S_ISREG(st.st_mode):
                problem = "not a regular file (a pipe, socket or device); not read"
            if problem:
                skipped.append(Skipped(readable_name(prefix + name), problem))
            else:
                found.append((prefix + name, st))
    found.sort(key=lambda f: f[0])
    skipped.sort(key=lambda s: s.doc_id)
    return found, skipped


def read_file(path: Path) -> bytes:
    """The bytes of a regular file, opened without following a link (OSError ELOOP if it is
    one now) and without blocking on a pipe swapped in for it."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        return f.read()


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
    files, skipped = list_files(docs_dir)
    for s in skipped:
        log.warning("skipping %s: %s", s.doc_id, s.reason)
    scan = Scan([], [], list(skipped))
    for doc_id, st in files:
        scan.stats[doc_id] = (st.st_size, st.st_mtime_ns)
        was = (known or {}).get(doc_id)
        if was is not None and was[1:] == scan.stats[doc_id]:
            scan.unchanged.append(doc_id)
            continue
        try:
            raw = read_file(docs_dir / doc_id)
        except OSError as exc:
            reason = (
                "a link; not followed"
                if exc.errno == errno.ELOOP
                else f"unreadable: {exc.strerror}"
            )
            result: Document | Skipped = Skipped(doc_id, reason)
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
