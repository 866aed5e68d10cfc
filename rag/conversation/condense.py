"""The condense step: a follow-up rewritten by the local LLM into a question that stands alone,
from the conversation so far (questions and answers), checked, else rewritten by rule.

Speed on a 2-core CPU (about 10 tokens a second written, 25 read) shapes the prompt:

- the instructions and examples (prompts/condense_system.md) are a prefix the LLM keeps
  evaluated, so they cost nothing per question;
- the conversation is evaluated ahead, by `prepare`, while the person reads the answer, and
  the follow-up as it is typed (the chat page), so little is left to read when it comes;
- the model does not re-type what is known: its reply starts with the follow-up's own words
  up to the first pointing-back word ("When were"), and it stops as soon as it has written
  the referent and reaches the follow-up's next word ("... the drills last"), whose rest is
  then copied ("held?"); a follow-up with several pointing-back words is written slot by
  slot the same way ("Where did [Ahn] meet [his] Korean counterpart?");
- a reply is cut off as soon as it can no longer pass the check (a number or a word the
  conversation never used), instead of being read to its end and then rejected.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from rag.answer.templates import load_prompt
from rag.conversation.rules import (
    MAX_ADDED_WORDS,
    check_rewrite,
    content_words,
    conversation_block,
    hopeless,
    needs_context,
    prefill,
    rejoin_slot,
    rule_rewrite,
    slots,
    words,
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

    def rewrite(self, question: str, history: Sequence[Exchange], wait: bool = True) -> Rewrite:
        """The question made to stand alone. Without `wait` (a request the LLM does not answer:
        a fast answer never waits behind slow ones) the LLM rewrites only when no request holds
        or waits for it (its turnstile), else the rule does, with the note "the LLM was busy"."""
        question = question.strip()
        if not history or not needs_context(question):
            return Rewrite(question, "as asked")
        by_rule = rule_rewrite(question, history)
        turn = None
        try:
            model = self.llm()
            if model is None:
                return Rewrite(by_rule, "rules", "no LLM to condense with")
            if not wait:
                from rag.models.llm import turnstile_of

                turnstile = turnstile_of(model)
                turn = turnstile.try_enter() if turnstile is not None else None
                if turnstile is not None and turn is None:
                    return Rewrite(by_rule, "rules", "the LLM was busy")
            text = self._ask(model, question, history)
        except RagError as exc:
            log.warning("the LLM could not rewrite %r (%s); using the rule", question, exc)
            return Rewrite(by_rule, "rules", f"the LLM failed: {exc}")
        finally:
            if turn is not None:
                turn.leave()
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
        """The model's rewrite, written slot by slot: from the follow-up's known start, it
        writes what the first pointing-back word stands for; once it reaches the known words
        after it, those are copied in and it goes on from the next pointing-back word."""
        user = self._prompt(history, question)
        budget = self.settings.condense_max_tokens
        text = prefill(question).rstrip()
        for word, after in slots(question) or [("", "")]:
            start = text.rstrip()  # a prompt ending in a space tokenizes badly
            text, done, budget = self._write(
                model, user, start, (word, after), question, history, budget
            )
            if done or budget <= 0:
                break
        return text.strip()

    def _write(
        self,
        model: LLM,
        user: str,
        start: str,
        slot: tuple[str, str],
        question: str,
        history: Sequence[Exchange],
        budget: int,
    ) -> tuple[str, bool, int]:
        """One slot, a pointing-back word and the known text after it: the rewrite so far
        (`start`, what the model wrote, and the known text once it reached it), whether it is
        finished, and the tokens left. It is finished when the model wrote to the end of a
        question, when it gave a whole reply (repeating `start`: a chat server does not
        continue a given start), or when what it wrote can no longer pass the check."""
        generated = ""
        stream = model.stream(self.system.text, user, budget, prefill=start)
        try:
            for piece in stream:
                budget -= 1
                generated += piece
                if "\n" in generated.strip():
                    generated = generated.strip().split("\n", 1)[0]
                    break
                whole = bool(start) and generated.strip().lower().startswith(start.lower())
                if not whole and (joined := rejoin_slot(generated, *slot)) is not None:
                    return start + joined, False, budget
                so_far = generated if whole else start + generated
                if (
                    len(words(so_far)) > len(words(question)) + MAX_ADDED_WORDS
                    or hopeless(question, so_far, history) is not None
                ):
                    return so_far.strip(), True, 0
                if "?" in generated:
                    generated = generated[: generated.index("?") + 1]
                    break
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # frees the model for the next caller at once
        reply = generated.strip()
        if start and reply.lower().startswith(start.lower()):
            return reply, True, budget
        return start + generated, True, budget

    def prepare(self, history: Sequence[Exchange], typed: str = "") -> None:
        """Evaluate the next rewrite's prompt as far as it is known: the conversation (while
        the person reads the answer) and, as they type the follow-up, its words but the last
        (which may still grow), or, once it ends with a question mark, the whole prompt up to
        the reply's known start, so that pressing Enter leaves little or nothing to read.
        Skipped when the LLM is busy: a read-ahead never makes anyone wait."""
        model = self.llm() if self._warm else None
        if model is None or not history:
            return
        from rag.models.llm import read_ahead

        typed = typed.strip()
        if typed.endswith("?") and needs_context(typed):
            start = prefill(typed).rstrip()
            read_ahead(model, self.system.text, self._prompt(history, typed), start)
            return
        known = typed.rsplit(None, 1)[0] if len(typed.split()) > 1 else ""
        read_ahead(model, self.system.text, self._prompt(history, known).rstrip())
