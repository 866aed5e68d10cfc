"""What an uploaded file must be to become a document, and what it is saved as. A plain name of a
format we read (.txt, .md, .html, .htm, .pdf, .docx; no folders, no hidden files, no control
characters, at most 80 characters and 200 bytes before the extension), no larger than
RAG_MAX_UPLOAD_BYTES, with content of that type that holds words (rag/ingest/formats.py).
Every refusal is an UploadRejected whose message tells the user what to do.

Names that differ only in capitals or in how an accent is encoded (Unicode NFC) are one
document, as on the file systems of macOS and Windows: the second such file of one upload is
refused, and a file named like a document already in the folder replaces it under that
document's name. A link or folder in the docs folder under the name is never written through.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from rag.errors import RagError
from rag.ingest.documents import Skipped, decode, readable_name
from rag.ingest.formats import SUFFIXES
from rag.types import Document
from rag.web.render import human_size

Kind = Literal["ok", "warn", "error"]

MAX_STEM_CHARS = 80
MAX_STEM_BYTES = 200  # file names are at most 255 bytes; room for the extension and a margin
SHOWN_CHARS = 60  # an uploaded name in a message, its middle left out beyond this
LISTED_FILES = 10  # more files added than this: one summary line instead of a line each
LISTED_ERRORS = 20  # more refusals than this: the rest in one line


class UploadRejected(RagError):
    """An uploaded file cannot become a document; the message says why, for the user."""


_UNSAFE = re.compile(r"[^\w.\- ]+")


def shown(name: str) -> str:
    """An uploaded file's name as a message shows it: one readable line, not too long."""
    return readable_name(unicodedata.normalize("NFC", name), SHOWN_CHARS)


def safe_filename(name: str) -> str:
    """A plain file name for an uploaded file: no folders, no hidden files, no odd characters.

    Raises UploadRejected when it is not a format we read.
    """
    base = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    base = re.sub(r"\s+", " ", _UNSAFE.sub("_", base)).strip().rstrip(" .")
    stem, dot, suffix = base.rpartition(".")
    suffix = f".{suffix.lower()}" if dot else ""
    if suffix not in SUFFIXES:
        kind = f"a {suffix} file" if suffix else "a file without an extension"
        name_shown = readable_name(base, SHOWN_CHARS) or "the file"
        raise UploadRejected(
            f"{name_shown}: only {', '.join(SUFFIXES)} files can be added (this is {kind}). "
            "Save it as one of those first."
        )
    stem = stem.strip(" ._-")[:MAX_STEM_CHARS]
    stem = stem.encode("utf-8")[:MAX_STEM_BYTES].decode("utf-8", "ignore")
    return (stem.rstrip(" ._-") or "document") + suffix


def check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        size_shown, max_shown = human_size(size), human_size(max_bytes)
        if size_shown == max_shown:  # "50 KB; at most 50 KB" would not say why
            size_shown, max_shown = f"{size:,} bytes", f"{max_bytes:,} bytes"
        raise UploadRejected(
            f"{name} is {size_shown}; files can be at most {max_shown} (RAG_MAX_UPLOAD_BYTES)."
        )


def check_upload(name: str, raw: bytes, max_bytes: int, doc_id: str | None = None) -> Document:
    """The Document an uploaded file becomes under its safe name (or `doc_id`), or
    UploadRejected."""
    doc_id = doc_id or safe_filename(name)
    check_size(doc_id, len(raw), max_bytes)
    result = decode(doc_id, raw)
    if isinstance(result, Skipped):
        if result.reason == "empty":
            raise UploadRejected(f"{doc_id} is empty; there is nothing in it to index.")
        raise UploadRejected(f"{doc_id} can't be added: {result.reason}.")
    return result


def name_key(name: str) -> str:
    """What makes two names one document: the same letters, whatever the capitals and the
    encoding of accents."""
    return unicodedata.normalize("NFC", name).lower()


class UploadNames:
    """The document names of one upload into `docs_dir`: which name each file is saved under,
    and which files cannot be saved because of their name."""

    def __init__(self, docs_dir: Path):
        self.docs_dir = docs_dir
        listed = sorted(n for n in os.listdir(docs_dir) if not n.startswith("."))
        self.in_folder = {name_key(n): n for n in reversed(listed)}  # the first name wins
        self.saved: dict[str, str] = {}  # name_key: the uploaded name saved under it

    def claim(self, name: str) -> tuple[str, str]:
        """The doc_id to save the uploaded file `name` as, and the "Added ..." or "Updated ..."
        notice for when it is saved; UploadRejected when its name cannot be."""
        safe = safe_filename(name)
        key = name_key(safe)
        first = self.saved.get(key)
        if first is not None:
            if unicodedata.normalize("NFC", first) == unicodedata.normalize("NFC", name):
                why = f"another file named {shown(name)} is in this upload"
            elif name_key(first) == name_key(name):
                why = (
                    f"{shown(first)} in this upload has the same name (names that differ only "
                    "in capitals are the same document)"
                )
            else:
                why = f"{shown(first)} in this upload is saved under the same name, {safe}"
            raise UploadRejected(f"{shown(name)} was not added: {why}. Rename it and add it again.")
        existing = self.in_folder.get(key)
        doc_id = existing or safe
        path = self.docs_dir / doc_id
        if path.is_symlink() or (path.exists() and not path.is_file()):
            kind = "link" if path.is_symlink() else "folder"
            raise UploadRejected(
                f"{shown(name)} can't be added: the documents folder holds a {kind} named "
                f"{readable_name(doc_id)}; remove it first."
            )
        renamed = f" (saved as {safe})" if safe != unicodedata.normalize("NFC", name) else ""
        if existing is None:
            return doc_id, f"Added {shown(name)}{renamed}."
        if unicodedata.normalize("NFC", existing) != safe:
            return doc_id, (
                f"Updated {readable_name(existing)} with {shown(name)} (names that differ only "
                "in capitals are the same document)."
            )
        return doc_id, f"Updated {shown(name)}{renamed}."  # the same, or but for its accents

    def saved_as(self, name: str, doc_id: str) -> None:
        self.saved[name_key(doc_id)] = name
        self.in_folder[name_key(doc_id)] = doc_id


def _listed(verb: str, names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"{verb} {names[0]}."
    if len(names) <= 3:
        return f"{verb} {', '.join(names[:-1])} and {names[-1]}."
    return f"{verb} {len(names)} files: {', '.join(names[:3])} and {len(names) - 3} more."


def upload_notices(
    results: Sequence[tuple[Kind, str, str]], added: Sequence[str], updated: Sequence[str]
) -> list[tuple[Kind, str]]:
    """The notices of one upload from each file's (kind, message, name), in order: a line per
    file, or, past LISTED_FILES files saved, one line for those added and one for those
    updated; refusals always have a line each, up to LISTED_ERRORS, the rest one line."""
    saved = [(k, t) for k, t, _ in results if k == "ok"]
    refused = [(k, t, n) for k, t, n in results if k != "ok"]
    notices: list[tuple[Kind, str]]
    if len(saved) > LISTED_FILES:
        notices = [("ok", _listed("Added", added))] if added else []
        notices += [("ok", _listed("Updated", updated))] if updated else []
        notices += [(k, t) for k, t, _ in refused[:LISTED_ERRORS]]
    else:
        notices, n_refused = [], 0
        for kind, text, _ in results:
            n_refused += kind != "ok"
            if kind == "ok" or n_refused <= LISTED_ERRORS:
                notices.append((kind, text))
    rest = [n for _, _, n in refused[LISTED_ERRORS:]]
    if rest:
        names = ", ".join(shown(n) for n in rest[:5]) + (", …" if len(rest) > 5 else "")
        notices.append(
            (
                "error",
                f"{len(rest)} more files could not be added: {names}; the server log has "
                "each reason.",
            )
        )
    return notices
