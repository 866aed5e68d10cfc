"""The condense step: a follow-up rewritten by the local LLM into a question that stands alone,
from the conversation so far (questions and answers), checked, else rewritten by rule.

Speed on a 2-core CPU (about 10 tokens a second written, 25 read) shapes the prompt:

- the instructions and examples (prompts/condense_system.md) are a prefix the LLM keeps
  evaluated, so they cost nothing per question;
- the conversation is evaluated ahead, by `prepare`, while the person reads the answer, so
  the follow-up itself is nearly all that is left to read when it comes;
- the model does not re-type what is known: its reply starts with the follow-up's own words
  up to the first pointing-back word ("When were"), and it stops as soon as it has written
  the referent and reaches the follow-up's next word ("... the drills last"), whose rest is
  then copied ("held?").
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rag.answer.templates import load_prompt
from rag.conversation.rules import (
    check_rewrite,
    content_words,
    conversation_block,
    needs_context,
    prefill,
    rejoin,
    rest_after_reference,
    rule_rewrite,
)
from rag.errors import RagError
from rag.types import Exchange

if TYPE_CHECKING:
    from rag.models.llm import LLM
    from rag.settings import ChatSettings

log = logging.getLogger(__name__)

Method = Literal["as asked", "llm", "rules"]


@dataclass(frozen=True)
class Rewrite:
    question: str  # what retrieval searches for
    method: Method
    note: str = ""  # why the LLM's rewrite was not used


class Condenser:
    """Rewrites follow-ups; `llm` gives the LLM to use, or None when there is none (rules)."""

    def __init__(self, settings: ChatSettings, llm: Callable[[], LLM | None]):
        self.settings = settings
        self._llm = llm
        self.system = load_prompt("condense_system", set())
        self.user = load_prompt("condense_user", {"conversation", "question"})
        self._warm = False
        self._lock = threading.Lock()

    def loaded(self) -> bool:
        """Has the LLM been loaded for rewriting (so `prepare` will not load it)?"""
        return self._warm

    def llm(self) -> LLM | None:
        """The LLM, its fixed prompt prefix kept evaluated; None when rules must do."""
        if self.settings.condense == "rules":
            return None
        model = self._llm()
        if model is None:
            return None
        with self._lock:
            if not self._warm:
                from rag.models.llm import warm_up

                warm_up(model, self.system.text)
                self._warm = True
        return model

    def rewrite(self, question: str, history: Sequence[Exchange]) -> Rewrite:
        question = question.strip()
        if not history or not needs_context(question):
            return Rewrite(question, "as asked")
        by_rule = rule_rewrite(question, history)
        try:
            model = self.llm()
            if model is None:
                return Rewrite(by_rule, "rules", "no LLM to condense with")
            text = self._ask(model, question, history)
        except RagError as exc:
            log.warning("the LLM could not rewrite %r (%s); using the rule", question, exc)
            return Rewrite(by_rule, "rules", f"the LLM failed: {exc}")
        problem = check_rewrite(question, text, history)
        if problem == "resolved nothing" and len(content_words(question)) >= 3:
            # the model kept a question with enough words of its own ("Which tributary joins
            # the Rhine after it leaves Lake Constance?"): searched as asked, not by rule
            return Rewrite(question, "as asked", "the LLM kept the question as it was")
        if problem is not None:
            log.info("rejected the rewrite %r of %r: %s", text, question, problem)
            return Rewrite(by_rule, "rules", f"rewrite {text!r} rejected: {problem}")
        return Rewrite(text, "llm")

    def _prompt(self, history: Sequence[Exchange], question: str) -> str:
        conversation = conversation_block(
            history, self.settings.condense_turns, self.settings.condense_answer_words
        )
        return self.user.render(conversation=conversation, question=question)

    def _ask(self, model: LLM, question: str, history: Sequence[Exchange]) -> str:
        start = prefill(question).rstrip()
        rest = rest_after_reference(question)
        generated = ""
        stream = model.stream(
            self.system.text,
            self._prompt(history, question),
            self.settings.condense_max_tokens,
            prefill=start,
        )
        try:
            for piece in stream:
                generated += piece
                if "\n" in generated.strip():
                    generated = generated.strip().split("\n", 1)[0]
                    break
                joined = rejoin(generated, rest)
                if joined is not None:
                    generated = joined
                    break
                if "?" in generated:
                    generated = generated[: generated.index("?") + 1]
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # frees the model for the next caller at once
        text = generated.strip()
        if start and not text.lower().startswith(start.lower()):
            text = f"{start} {text}"  # the model continued from the given start
        return text

    def prepare(self, history: Sequence[Exchange]) -> None:
        """Evaluate the conversation part of the next rewrite's prompt now (while the person
        reads the answer), so a follow-up costs little more than its own words."""
        model = self.llm()
        if model is None or not history:
            return
        from rag.models.llm import warm_up

        prefix = self._prompt(history, "").rstrip()
        warm_up(model, self.system.text, prefix, keep=False)
