"""The LlamaIndex response synthesizer: refuse when the evidence does not answer (decided in
code, rag/search/answerability.py), else let the request's answer writer write, streamed.

This is the one place that decides whether a question is answered, answered with low
confidence or refused, and why (`decide`): from the evidence's Verdict and the typed Decision
the writer returned (its model finding no answer, or its citation check failing). The final
Answer carries that Decision; nothing downstream reads it from wording or notes.

It always streams: the StreamingResponse yields the writer's text as it comes, and once that
stream is drained `response.metadata["answer"]` holds the final, verified Answer (whose text
replaces the streamed draft).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import replace
from typing import Any

from llama_index.core.base.response.schema import StreamingResponse
from llama_index.core.callbacks import CallbackManager
from llama_index.core.indices.prompt_helper import ChatPromptHelper, PromptHelper
from llama_index.core.llms.mock import MockLLM
from llama_index.core.prompts.mixin import PromptDictType
from llama_index.core.response_synthesizers import BaseSynthesizer
from llama_index.core.schema import NodeWithScore, QueryBundle

from rag.answer.registry import Writers
from rag.answer.writers import MODEL_FOUND_NONE, final_answer, refusal
from rag.search.answerability import Verdict
from rag.search.nodes import node_evidence
from rag.types import Answer, Decision, Evidence

Judge = Callable[[str, Sequence[Evidence]], Verdict]  # does the evidence answer the question?

QUOTED_INSTEAD = f"{MODEL_FOUND_NONE}; the closest evidence is quoted"


def low_reason(verdict: Verdict) -> str:
    """Why an answer carries the low-confidence note, for a person."""
    return verdict.reason or (
        f"the closest sentences may not answer this question "
        f"(P unanswerable {verdict.unanswerable:.2f})"
    )


def decide(verdict: Verdict, written: Decision) -> Decision:
    """The final decision, from the evidence's verdict and what the writer's Answer says.

    The evidence refuses first (the writer is not even asked). A refusal by the writer or by
    the citation check stands (where the verdict was a confident "answer", a writer's refusal
    was already overruled: `CitedSynthesizer._second_opinion`), as does a low confidence the
    writer's answer already carries. Otherwise the verdict's band: answered, or low confidence.
    """
    if verdict.decision == "refuse":
        reason = verdict.reason or "the evidence does not answer the question"
        return Decision("refused", reason, "evidence")
    if written.outcome != "answered":
        return written
    if verdict.decision == "low":
        return Decision("low_confidence", low_reason(verdict), "evidence")
    return Decision("answered", "", "evidence")


class CitedSynthesizer(BaseSynthesizer):
    def __init__(self, writers: Writers, judge: Judge):
        # No LLM of LlamaIndex's own writes here (the writers hold theirs): MockLLM and the
        # prompt helpers only keep the base class from reaching for LlamaIndex's global
        # Settings and from loading tiktoken's vocabulary (0.8 s) to count tokens it never sees.
        super().__init__(
            llm=MockLLM(),
            callback_manager=CallbackManager(),
            prompt_helper=PromptHelper(tokenizer=str.split),
            chat_prompt_helper=ChatPromptHelper(tokenizer=str.split),
            streaming=True,
        )
        self._writers = writers
        self._judge = judge

    def synthesize(
        self,
        query: Any,
        nodes: list[NodeWithScore],
        additional_source_nodes: Sequence[NodeWithScore] | None = None,
        **response_kwargs: Any,
    ) -> StreamingResponse:
        question = query.query_str if isinstance(query, QueryBundle) else str(query)
        asked = getattr(query, "asked", "") or question  # an Ask keeps the question as asked
        rewritten_by = getattr(query, "rewritten_by", "")
        writer = self._writers.get(getattr(query, "writer", None))
        evidence = [node_evidence(n) for n in nodes]
        metadata: dict[str, Any] = {"answer": None}

        def pieces() -> Generator[str, None, None]:
            verdict = self._judge(question, evidence)
            stream: Iterator[str | Answer]
            if verdict.decision == "refuse":
                why = verdict.reason
                stream = iter([refusal(question, evidence, writer.name, "evidence", why, why)])
            else:
                stream = writer.stream(question, evidence)
            for piece in stream:
                if isinstance(piece, Answer):  # the last item: the verified answer
                    piece = self._second_opinion(piece, verdict, question, evidence)
                    decision = decide(verdict, piece.decision)
                    searched = question if question != asked else ""
                    notes = [f"follow-up rewritten by {rewritten_by}"] if rewritten_by else []
                    if decision.low_confidence:  # the note is for logs and the eval report
                        notes.append(f"low confidence (P unanswerable {verdict.unanswerable:.2f})")
                    note = "; ".join([*notes, piece.note] if piece.note else notes)
                    metadata["answer"] = replace(
                        piece, question=asked, searched=searched, note=note, decision=decision
                    )
                else:
                    yield piece
            if metadata["answer"] is None:
                raise RuntimeError(f"the {writer.name} answer writer ended without an answer")

        return StreamingResponse(
            response_gen=pieces(),
            source_nodes=[*nodes, *(additional_source_nodes or [])],
            metadata=metadata,
        )

    def _second_opinion(
        self, answer: Answer, verdict: Verdict, question: str, evidence: Sequence[Evidence]
    ) -> Answer:
        """A writer that finds no answer (decision refused by="writer") where the
        answerability model is confident there is one is overruled: the closest evidence is
        quoted, with low confidence. (A 1.5B model refuses about a third of answerable SQuAD
        questions on its own; where both doubt, the refusal stands. A refusal by the citation
        check, the model naming what no evidence holds, always stands.)"""
        if not (
            answer.decision.refused
            and answer.decision.by == "writer"
            and verdict.decision == "answer"
        ):
            return answer
        quoted = final_answer(self._writers.get("extractive").stream(question, evidence))
        decision = Decision("low_confidence", QUOTED_INSTEAD, "writer")
        return replace(quoted, decision=decision, note=QUOTED_INSTEAD)

    # The abstract text-only interface: this synthesizer answers from scored evidence nodes
    # (synthesize above), never from bare text chunks.
    def get_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        raise NotImplementedError("CitedSynthesizer answers from evidence nodes: use synthesize")

    async def aget_response(self, query_str: str, text_chunks: Sequence[str], **kwargs: Any) -> str:
        raise NotImplementedError("CitedSynthesizer answers from evidence nodes: use synthesize")

    def _get_prompts(self) -> PromptDictType:
        return {}

    def _update_prompts(self, prompts: PromptDictType) -> None:
        """The prompts are files under prompts/, loaded by the LLM writer."""
