"""The LLM answer writer: the model words the answer from numbered evidence sentences, then
every claim is verified against what it cites before anything is returned as final.

What the model is shown: the retrieved evidence sentences, numbered. When the whole corpus is
small (at most `llm_prompt_corpus_max_chars` of sentences, e.g. one news article), it is shown
every sentence instead, numbered in document order: that block is then the same for every
question, so llama.cpp keeps it in its prompt cache and a question costs only its own tokens
(far less than evaluating even four fresh evidence sentences on a 2-core CPU).

Streaming yields the model's draft as it comes; the last item is the verified Answer, which
the caller shows instead of the draft. A draft that cannot be verified (or re-cited) is
replaced by the extractive answer. A draft that says the documents don't answer (or only
points at a sentence) is reported as a typed Decision, refused by="writer", and one whose
claims name what no evidence holds as refused by="check": the synthesizer weighs either
against the evidence's verdict and sets the final decision. Whether to call the model at all
was decided before, from the evidence.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from rag.answer.citations import NO_CLAIMS, Read, verify_answer
from rag.answer.templates import load_prompt
from rag.answer.writers import MODEL_FOUND_NONE, REFUSAL, AnswerWriter, final_answer, refusal
from rag.models.reader import reader_texts
from rag.types import ANSWERED, Answer, Evidence

if TYPE_CHECKING:
    from rag.ingest.corpus import Corpus
    from rag.models.embedder import Embedder
    from rag.models.llm import LLM
    from rag.models.reader import Reader
    from rag.settings import Settings

log = logging.getLogger(__name__)

_MODEL_REFUSES = re.compile(
    r"documents don.t say|not (mentioned|stated|specified|provided|given)|no information|"
    r"does not (say|mention|specify|state)|do not (say|mention|specify)|cannot be determined|"
    r"unknown|not in the evidence",
    re.I,
)


UNVERIFIED = "the model's answer names what no evidence sentence holds"


def _numbered(context: Sequence[Evidence]) -> str:
    return "\n".join(f"[{i}] {e.sentence.text}" for i, e in enumerate(context, start=1))


class LLMWriter:
    name = "llm"

    def __init__(
        self,
        settings: Settings,
        fallback: AnswerWriter,
        embedder: Embedder | None = None,
        llm: LLM | None = None,
        corpus: Callable[[], Corpus] | None = None,
        reader: Reader | None = None,
    ):
        self.settings = settings
        self.fallback = fallback
        self.embedder = embedder
        self.corpus = corpus
        self.reader = reader
        self._llm = llm
        self.system = load_prompt("answer_system", set())
        self.user = load_prompt("answer_user", {"evidence", "question"})

    @property
    def llm(self) -> LLM:
        if self._llm is None:
            from rag.models.llm import make_llm

            self._llm = make_llm(self.settings)
            self.warm_up()
        return self._llm

    def warm_up(self) -> None:
        """Have the model evaluate the part of the prompt that every question shares."""
        from rag.models.llm import warm_up

        whole = self._whole_corpus()
        prefix = self.user.render(evidence=_numbered(whole), question="").rstrip() if whole else ""
        warm_up(self.llm, self.system.text, prefix)

    def _whole_corpus(self) -> list[Evidence]:
        """Every sentence of the corpus, in document order, when it is small enough to show."""
        if self.corpus is None:
            return []
        sentences = list(self.corpus().sentences.values())
        if sum(len(x.text) + 6 for x in sentences) > self.settings.llm.prompt_corpus_max_chars:
            return []
        return [Evidence(x, 0.0, 0.0, 0.0) for x in sentences]

    def context(self, evidence: Sequence[Evidence]) -> list[Evidence]:
        """The sentences the model is shown, in the order of their [n] numbers."""
        whole = self._whole_corpus()
        if not whole:
            return list(evidence[: self.settings.llm.evidence_k])
        scored = {e.sentence.id: e for e in evidence}
        return [scored.get(e.sentence.id, e) for e in whole]

    def _read(self, question: str) -> Read | None:
        """The reader's P that evidence sentences answer the question, for the claim check."""
        reader, corpus = self.reader, self.corpus
        if reader is None or corpus is None:
            return None

        def read(items: Sequence[Evidence]) -> Sequence[float]:
            return [
                float(p) for p in reader.scores(question, reader_texts(corpus().sentences, items))
            ]

        return read

    def prompt(self, question: str, context: Sequence[Evidence]) -> str:
        return self.user.render(evidence=_numbered(context), question=question)

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        context = self.context(evidence)
        draft: list[str] = []
        for piece in self.llm.stream(
            self.system.text, self.prompt(question, context), self.settings.llm.max_tokens
        ):
            draft.append(piece)
            yield piece
        yield self.check(question, "".join(draft).strip(), evidence, context)

    def check(
        self,
        question: str,
        draft: str,
        evidence: Sequence[Evidence],
        context: Sequence[Evidence] | None = None,
    ) -> Answer:
        """The verified Answer for a model draft whose [n] number `context` (default: the
        evidence); `evidence`, the ranked retrieval result, stays on the Answer."""
        context = evidence if context is None else context
        if not draft or _MODEL_REFUSES.search(draft) or draft.startswith(REFUSAL[:12]):
            return refusal(
                question, evidence, self.name, "writer", MODEL_FOUND_NONE, MODEL_FOUND_NONE
            )
        embed = self.embedder.embed if self.embedder is not None else None
        verified = verify_answer(
            draft, question, context, self.settings.answer, embed, self._read(question)
        )
        if verified.text:
            note = "; ".join(verified.problems)
            if verified.repaired:
                log.info("re-cited the model's answer: %s", note)
            return Answer(
                question,
                verified.text,
                ANSWERED,
                verified.citations,
                tuple(evidence),
                self.name,
                note,
            )
        if verified.problems == (NO_CLAIMS,):
            # a bare "[4]": the model gave no answer (the engine may quote the evidence)
            note = f"{MODEL_FOUND_NONE} ({NO_CLAIMS})"
            return refusal(question, evidence, self.name, "writer", MODEL_FOUND_NONE, note)
        if verified.invented:
            # the model made something up: nothing survived
            log.info("model answer failed verification (%s); refusing", verified.problems)
            note = "nothing survived verification: " + "; ".join(verified.problems)
            return refusal(question, evidence, self.name, "check", UNVERIFIED, note)
        log.info(
            "model answer failed verification (%s); using the extractive answer", verified.problems
        )
        # the quoted sentences are the extractive writer's, and the Answer says so (the page
        # must not label quoted text "written by the local LLM")
        fallback = final_answer(self.fallback.stream(question, evidence))
        note = "extractive fallback: " + "; ".join(verified.problems)
        return replace(fallback, evidence=tuple(evidence), note=note)
