"""Pure: what an uploaded file must be to become a document. A plain name of a format we read
(.txt, .md, .html, .htm, .pdf, .docx; no folders, no hidden files), no larger than
RAG_MAX_UPLOAD_BYTES, with content of that type that holds text (rag/ingest/formats.py).
Every refusal is an UploadRejected whose message tells the user what to do."""

from __future__ import annotations

import re
import unicodedata

from rag.errors import RagError
from rag.ingest.documents import Skipped, decode
from rag.ingest.formats import SUFFIXES
from rag.types import Document
from rag.web.render import human_size


class UploadRejected(RagError):
    """An uploaded file cannot become a document; the message says why, for the user."""


_UNSAFE = re.compile(r"[^\w.\- ]+")


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
        shown = base or "the file"
        raise UploadRejected(
            f"{shown}: only {', '.join(SUFFIXES)} files can be added (this is {kind}). Save it "
            "as one of those first."
        )
    stem = stem.strip(" ._-")[:80].rstrip(" ._-") or "document"
    return stem + suffix


def check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise UploadRejected(
            f"{name} is {human_size(size)}; files can be at most {human_size(max_bytes)} "
            "(RAG_MAX_UPLOAD_BYTES)."
        )


def check_upload(name: str, raw: bytes, max_bytes: int) -> Document:
    """The Document an uploaded file becomes under its safe name, or UploadRejected."""
    doc_id = safe_filename(name)
    check_size(doc_id, len(raw), max_bytes)
    result = decode(doc_id, raw)
    if isinstance(result, Skipped):
        if result.reason == "empty":
            raise UploadRejected(f"{doc_id} is empty; there is nothing in it to index.")
        raise UploadRejected(f"{doc_id} can't be added: {result.reason}.")
    return result
