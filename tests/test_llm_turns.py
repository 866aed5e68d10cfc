"""Turns at the LLM (rag/models/turnstile.py): first come, first served, each waiting request
knowing its place; the chat shows it; an extractive answer never waits for the LLM, not even
to have its follow-up rewritten. Fast: fake embedder, scripted LLM, no server (the same over
a real server, with real models: tests/test_reliability_load.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from rag.conversation.condense import Condenser
from rag.errors import RagError
from rag.models.turnstile import Turnstile
from rag.settings import Settings
from rag.types import ANSWERED, Answer, Evidence, Exchange
from rag.web.render import Turn, render_chat, waiting_text
from rag.web.session import ChatSession
from tests.fakes import ScriptedLLM
from tests.test_web_session import make_session

HISTORY = [Exchange("Why were the naval drills suspended?", "Over a 2018 dispute over a flag [1].")]
FOLLOW_UP = "When were they last held?"


# -- the turnstile ------------------------------------------------------------------------------


def test_tickets_are_served_in_order_and_know_their_place() -> None:
    line = Turnstile()
    first, second, third = line.join(), line.join(), line.join()
    assert [first.ahead(), second.ahead(), third.ahead()] == [0, 1, 2]
    assert line.busy() and line.try_enter() is None  # someone holds it: no cutting in
    second.leave()  # gave up while waiting (a closed tab)
    assert third.ahead() == 1
    first.leave()
    assert third.ahead() == 0 and third.wait_turn(timeout=0)
    third.leave()
    third.leave()  # idempotent
    assert not line.busy()
    alone = line.try_enter()
    assert alone is not None and alone.ahead() == 0
    alone.leave()


def test_a_waiting_ticket_wakes_when_the_line_moves() -> None:
    line = Turnstile()
    holder, waiter = line.join(), line.join()
    threading.Timer(0.05, holder.leave).start()
    assert waiter.wait(timeout=10) == 0  # woke up at the move, not at the timeout
    assert waiter.wait(timeout=10) == 0  # its turn: returns at once
    waiter.leave()


def test_many_threads_get_the_model_one_at_a_time_in_arrival_order() -> None:
    line = Turnstile()
    served: list[int] = []
    holder = line.join()
    tickets = [line.join() for _ in range(8)]

    def use(i: int) -> None:
        with tickets[i] as t:
            t.wait_turn()
            served.append(i)

    threads = [threading.Thread(target=use, args=(i,)) for i in reversed(range(8))]
    for th in threads:
        th.start()
    holder.leave()
    for th in threads:
        th.join(timeout=10)
    assert served == list(range(8))
    assert not line.busy()


# -- the condense step does not wait for a busy LLM when asked not to -----------------------------


class TurnLLM(ScriptedLLM):
    """A scripted in-process LLM with a line of requests, as LlamaCppLLM has."""

    def __init__(self, *replies: str):
        super().__init__(*replies)
        self.turnstile = Turnstile()


def _condenser(tmp_path: Path, model: ScriptedLLM) -> Condenser:
    settings = Settings.load(docs_dir=tmp_path, cache_dir=tmp_path / "cache", condense="llm")
    return Condenser(settings.chat, lambda: model)


def test_a_rewrite_that_may_not_wait_uses_the_rule_while_the_llm_is_busy(tmp_path: Path) -> None:
    model = TurnLLM("When were the naval drills last held?")
    condenser = _condenser(tmp_path, model)
    busy = model.turnstile.join()  # an LLM answer holds the model
    rewrite = condenser.rewrite(FOLLOW_UP, HISTORY, wait=False)
    assert rewrite.method == "rules" and rewrite.note == "the LLM was busy"
    assert "drills" in rewrite.question
    assert model.prompts == []  # the LLM was never asked
    busy.leave()
    # free: the LLM rewrites, holding the model meanwhile, and gives it back
    rewrite = condenser.rewrite(FOLLOW_UP, HISTORY, wait=False)
    assert (rewrite.method, rewrite.question) == ("llm", "When were the naval drills last held?")
    assert not model.turnstile.busy()


def test_a_rewrite_that_may_wait_uses_the_llm_even_when_others_wait(tmp_path: Path) -> None:
    """An LLM answer's own rewrite: the request already holds its turn (the session's)."""
    model = TurnLLM("When were the naval drills last held?")
    condenser = _condenser(tmp_path, model)
    mine = model.turnstile.join()
    assert condenser.rewrite(FOLLOW_UP, HISTORY).method == "llm"
    mine.leave()


# -- the chat shows a waiting question its place; /ask waits its turn ----------------------------


class LLMWriter:
    """Answers with its best evidence sentence; carries an LLM with a line of requests (the
    condense step rewrites with it), as the real LLM writer does."""

    name = "llm"

    def __init__(self, *rewrites: str):
        self.llm = TurnLLM(*rewrites)

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        text = f"{evidence[0].sentence.text} [1]"
        yield text
        yield Answer(question, text, ANSWERED, (), tuple(evidence), self.name)


def _session(tmp_path: Path, writer: LLMWriter) -> ChatSession:
    return make_session(tmp_path, writers={"llm": writer}, condense="llm")


def test_the_chat_shows_a_waiting_question_its_place_in_the_line(tmp_path: Path) -> None:
    writer = LLMWriter()
    session = _session(tmp_path, writer)
    line = writer.llm.turnstile
    first, second = line.join(), line.join()  # two LLM answers before this one
    steps = session.chat("Why were the naval drills suspended?", [], "llm", 6)
    assert next(steps)[0][-1].status == "pending"
    turns, _ = next(steps)
    assert turns[-1].status == "waiting" and turns[-1].ahead == 2
    html = render_chat(turns, 1)
    assert "rc-waiting" in html and "2 questions ahead of yours" in html
    first.leave()
    while (turns := next(steps)[0])[-1].ahead == 2:
        pass
    assert turns[-1].status == "waiting" and turns[-1].ahead == 1
    assert "Waiting for the language model: 1 question ahead of yours" in render_chat(turns, 1)
    second.leave()
    rest = list(steps)
    assert rest[-1][1] == "done" and rest[-1][0][-1].status == "answer"
    assert "2018" in rest[-1][0][-1].text
    assert not line.busy()  # done: its place is given back


def test_a_closed_tab_gives_up_its_place(tmp_path: Path) -> None:
    writer = LLMWriter()
    session = _session(tmp_path, writer)
    line = writer.llm.turnstile
    holder = line.join()
    steps = session.chat("Why were the naval drills suspended?", [], "llm", 6)
    next(steps)
    assert next(steps)[0][-1].status == "waiting" and len(line) == 2
    steps.close()  # gradio closes the generator of a tab that went away
    assert len(line) == 1
    holder.leave()


def test_an_extractive_follow_up_does_not_wait_for_a_busy_llm(tmp_path: Path) -> None:
    writer = LLMWriter("When were the naval drills last held?")
    session = _session(tmp_path, writer)
    line = writer.llm.turnstile
    busy = line.join()  # an LLM answer holds the model for as long as this test runs
    history = [Turn("Why were the naval drills suspended?", "Over a 2018 dispute [1].", "answer")]
    done = session.chat(FOLLOW_UP, history, "extractive", 6)
    turns = list(done)[-1][0]
    assert turns[-1].status == "answer" and "2017" in turns[-1].text
    assert "drills" in turns[-1].searched  # rewritten by the rule: the LLM was busy
    assert writer.llm.prompts == []
    result = session.api_answer(FOLLOW_UP, ["Why were the naval drills suspended?"], "extractive")
    assert "2017" in str(result["answer"]) and writer.llm.prompts == []
    busy.leave()


def test_an_llm_api_answer_waits_its_turn(tmp_path: Path) -> None:
    writer = LLMWriter()
    session = _session(tmp_path, writer)
    line = writer.llm.turnstile
    holder = line.join()
    results: list[dict[str, object]] = []
    asking = threading.Thread(
        target=lambda: results.append(
            session.api_answer("Why were the drills suspended?", [], "llm")
        )
    )
    asking.start()
    deadline = time.monotonic() + 10
    while len(line) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(line) == 2 and results == []  # in line behind the holder
    holder.leave()
    asking.join(timeout=10)
    assert results and results[0]["question"] == "Why were the drills suspended?"
    assert not line.busy()


def test_the_api_takes_a_writer_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    session = _session(tmp_path, LLMWriter())
    assert session.api_answer("Why were the drills suspended?", [], "extractive")["citations"]
    with pytest.raises(RagError, match="unknown answer writer"):
        session.api_answer("Why were the drills suspended?", [], "poetry")


def test_the_waiting_text() -> None:
    assert waiting_text(1) == "Waiting for the language model: 1 question ahead of yours"
    assert waiting_text(3).endswith("3 questions ahead of yours")


def test_answers_are_not_serialised_with_each_other_or_with_the_index(tmp_path: Path) -> None:
    """The page's wiring: the chat's answers and /ask share a concurrency group that lets
    many run at once (the LLM's own line orders LLM answers), apart from index changes."""
    from rag.web.page import build_app

    demo = build_app(make_session(tmp_path))
    groups = {
        fn.name: (fn.concurrency_id, fn.concurrency_limit)
        for fn in demo.fns.values()
        if fn.name in ("on_answer", "ask", "on_upload", "on_remove", "on_rescan")
    }
    assert groups["on_answer"] == groups["ask"]
    answers_id, answers_limit = groups["ask"]
    assert isinstance(answers_limit, int) and answers_limit >= 16
    for name in ("on_upload", "on_remove", "on_rescan"):
        assert groups[name][0] != answers_id and groups[name][1] == 1
