"""The systems `rag eval` measures, behind one interface: our engine (rag/engine.py, with the
answer writer the CLI and the chat would use) and the stock LlamaIndex baseline
(rag/eval/baseline.py); and the identities of their models, for the report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from rag.eval.identity import (
    answerability_identity,
    embedder_identity,
    llm_identity,
    reader_identity,
)
from rag.ingest.corpus import Corpus
from rag.settings import Settings
from rag.types import Answer

if TYPE_CHECKING:
    from rag.engine import Engine

log = logging.getLogger(__name__)


class System(Protocol):
    """What the runner measures: our engine, or the baseline (rag/eval/baseline.py)."""

    name: str

    @property
    def answerer(self) -> str: ...

    @property
    def corpus(self) -> Corpus: ...

    def ingest(self) -> None: ...

    def warm_up(self) -> None:
        """Load lazily loaded models, so the first question's latency is not the load time."""
        ...

    def ranked(self, question: str, history: Sequence[str], depth: int) -> list[tuple[str, ...]]:
        """Retrieval units, best first, each as the sentence ids it holds."""
        ...

    def answer(self, question: str, history: Sequence[str]) -> Answer: ...

    def describe(self) -> dict[str, Any]:
        """Model identities and the settings that matter, for the report."""
        ...


class EngineSystem:
    """Our engine (rag/engine.py) as the runner sees it, with the answer writer the CLI and the
    chat would use for these settings."""

    name = "rag"

    def __init__(self, engine: Engine):
        self.engine = engine

    @property
    def answerer(self) -> str:
        return str(self.engine.writers.get().name)

    @property
    def corpus(self) -> Corpus:
        return self.engine.store.corpus

    def ingest(self) -> None:
        log.info("index: %s", self.engine.ingest().summary())

    def warm_up(self) -> None:
        self.engine.evidence("warm up")
        self.engine.writers.ready()

    def ranked(self, question: str, history: Sequence[str], depth: int) -> list[tuple[str, ...]]:
        return [(e.sentence.id,) for e in self.engine.evidence(question, history, depth)]

    def answer(self, question: str, history: Sequence[str]) -> Answer:
        return self.engine.answer(question, history)

    def describe(self) -> dict[str, Any]:
        settings = self.engine.settings
        out: dict[str, Any] = {
            "system": self.name,
            "answerer": self.answerer,
            "embedder": embedder_identity(settings, self.engine.embedder.name),
            "retrieval_unit": "sentence",
            "answerability": answerability_identity(settings),
            "reader": reader_identity(settings),
        }
        if self.answerer != "extractive":
            out["llm"] = llm_identity(settings, self.engine.writers.get())
        return out


def make_system(kind: str, settings: Settings) -> System:
    if kind == "baseline":
        from rag.eval.baseline import BaselineSystem

        return BaselineSystem(settings)
    from rag.engine import Engine

    return EngineSystem(Engine(settings))
