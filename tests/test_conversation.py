"""Conversations: the condense step (a scripted LLM's rewrite, checked, else the rule), the
Answer keeping the question as asked with what was searched, and one memory per conversation
behind LlamaIndex's chat-engine interface."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from llama_index.core.chat_engine.types import BaseChatEngine

from rag.conversation.chat import Conversation
from rag.conversation.condense import Condenser, Rewrite
from rag.engine import Engine
from rag.settings import Settings
from rag.types import ANSWERED, Answer, Evidence, Exchange
from tests.fakes import HashingEmbedder, ScriptedLLM

NEWS = (
    "The naval drills were stalled due to a 2018 dispute over a flag.\n\n"
    "The ministers met at Yokosuka on January 30.\n\n"
    "The last drills were held in 2017, before the dispute.\n\n"
    "Koizumi visited the destroyer and spoke with the crew."
)


class Writer:
    """Answers with its best evidence sentence, records the question it was given, and
    carries the LLM the condense step uses (as the LLM writer does)."""

    name = "llm"

    def __init__(self, *rewrites: str):
        self.llm = ScriptedLLM(*rewrites)
        self.questions: list[str] = []

    def stream(self, question: str, evidence: Sequence[Evidence]) -> Iterator[str | Answer]:
        self.questions.append(question)
        text = f"{evidence[0].sentence.text} [1]"
        yield text
        yield Answer(question, text, ANSWERED, (), tuple(evidence), self.name)


def make_engine(tmp_path: Path, writer: Writer, condense: str = "llm") -> Engine:
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    (docs / "news.txt").write_text(NEWS, encoding="utf-8")
    settings = Settings.load(
        docs_dir=docs, cache_dir=tmp_path / "cache", answerer="llm", condense=condense
    )
    engine = Engine(settings, embedder=HashingEmbedder(), writers={"llm": writer})
    engine.ingest()
    return engine


HISTORY = [Exchange("Why were the naval drills stalled?", "Due to a 2018 dispute over a flag [1].")]


def test_the_llm_rewrite_is_searched_and_the_answer_keeps_the_question(tmp_path: Path) -> None:
    writer = Writer("When were the naval drills last held?")
    engine = make_engine(tmp_path, writer)
    answer = engine.answer("When were they last held?", HISTORY)
    assert answer.question == "When were they last held?"
    assert answer.searched == "When were the naval drills last held?"
    assert answer.to_json()["searched"] == answer.searched
    assert writer.questions == ["When were the naval drills last held?"]
    assert "2017" in answer.text
    system, user = writer.llm.prompts[0]
    assert "Rewrite" in system
    # the conversation so far, answers included, then the follow-up
    assert "Q: Why were the naval drills stalled?\nA: Due to a 2018 dispute" in user
    assert user.rstrip().endswith("Question: When were they last held?")


def test_a_rewrite_that_answers_falls_back_to_the_rule(tmp_path: Path) -> None:
    writer = Writer("When were the 2017 drills last held?")
    engine = make_engine(tmp_path, writer)
    answer = engine.answer("When were they last held?", HISTORY)
    assert answer.searched == "When were naval drills last held?"  # the rule's rewrite


def test_without_an_llm_the_rule_rewrites(tmp_path: Path) -> None:
    writer = Writer("never used")
    engine = make_engine(tmp_path, writer, condense="rules")
    answer = engine.answer("When were they last held?", HISTORY)
    assert answer.searched == "When were naval drills last held?"
    assert writer.llm.prompts == []


def test_a_topic_switch_is_searched_as_asked_without_asking_the_llm(tmp_path: Path) -> None:
    writer = Writer("never used")
    engine = make_engine(tmp_path, writer)
    answer = engine.answer("Where did the ministers meet?", HISTORY)
    assert answer.searched == ""
    assert answer.to_json()["searched"] == "Where did the ministers meet?"
    assert "Yokosuka" in answer.text
    assert writer.llm.prompts == []


def test_the_api_history_of_bare_questions_is_condensed_too(tmp_path: Path) -> None:
    writer = Writer("When were the naval drills last held?")
    engine = make_engine(tmp_path, writer)
    answer = engine.answer("When were they last held?", ["Why were the naval drills stalled?"])
    assert answer.searched == "When were the naval drills last held?"
    assert "A:" not in writer.llm.prompts[0][1]


def test_each_conversation_has_its_own_memory(tmp_path: Path) -> None:
    writer = Writer("When were the naval drills last held?", "Who did Koizumi speak with?")
    engine = make_engine(tmp_path, writer)
    a, b = Conversation(engine), Conversation(engine)
    assert isinstance(a, BaseChatEngine)
    a.answer("Why were the naval drills stalled?")
    b.answer("What did Koizumi visit?")
    follow_a = a.answer("When were they last held?")
    follow_b = b.answer("Who did he speak with?")
    assert follow_a.searched == "When were the naval drills last held?"
    assert "Koizumi" in writer.llm.prompts[1][1] and "drills" not in writer.llm.prompts[1][1]
    assert follow_b.searched == "Who did Koizumi speak with?"
    assert [t.question for t in a.history] == [
        "Why were the naval drills stalled?",
        "When were they last held?",
    ]
    assert a.history[1].searched == follow_a.searched and a.history[1].answer == follow_a.text
    a.reset()
    assert a.history == [] and len(b.history) == 2


def test_the_llamaindex_chat_interface(tmp_path: Path) -> None:
    writer = Writer("When were the naval drills last held?")
    engine = make_engine(tmp_path, writer)
    chat = Conversation(engine)
    first = chat.chat("Why were the naval drills stalled?")
    assert "2018" in first.response and first.metadata and first.metadata["answer"].citations == ()
    streamed = chat.stream_chat("When were they last held?")
    assert "2017" in "".join(streamed.response_gen)
    assert [m.role.value for m in chat.chat_history] == ["user", "assistant", "user", "assistant"]
    assert (
        chat.chat_history[2].additional_kwargs["searched"]
        == "When were the naval drills last held?"
    )


@pytest.mark.parametrize("condense", ["auto", "rules"])
def test_auto_condense_without_an_llm_uses_the_rule(tmp_path: Path, condense: str) -> None:
    from tests.test_engine import RecordingWriter

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "news.txt").write_text(NEWS, encoding="utf-8")
    settings = Settings.load(
        docs_dir=docs, cache_dir=tmp_path / "c", answerer="extractive", condense=condense
    )
    engine = Engine(settings, HashingEmbedder(), {"extractive": RecordingWriter("extractive")})
    engine.writers._llm_installed = False  # as on a machine without llama-cpp-python
    engine.ingest()
    assert engine.answer("When were they last held?", HISTORY).searched.startswith(
        "When were naval"
    )


def test_a_question_the_llm_keeps_whole_is_searched_as_asked(tmp_path: Path) -> None:
    question = "Which ministers met after it ended at Yokosuka?"
    writer = Writer(question)
    engine = make_engine(tmp_path, writer)
    answer = engine.answer(question, HISTORY)
    assert answer.searched == "" and writer.llm.prompts  # asked, kept, searched as asked


def test_the_follow_up_is_read_ahead_as_it_is_typed(tmp_path: Path) -> None:
    class Recording(ScriptedLLM):
        def __init__(self) -> None:
            super().__init__()
            self.read: list[tuple[str, str | None]] = []

        def warm_up(self, system: str, user_prefix: str = "") -> None:
            pass

        def read_ahead(self, system: str, user: str, reply_start: str | None = None) -> None:
            self.read.append((user, reply_start))

    writer = Writer()
    writer.llm = Recording()
    engine = make_engine(tmp_path, writer)
    condenser = engine.condenser
    condenser.prepare(HISTORY, "When were they")
    assert writer.llm.read == []  # the LLM is not loaded on a keystroke
    condenser.llm()
    condenser.prepare(HISTORY, "When were they la")
    user, reply_start = writer.llm.read[-1]
    assert reply_start is None and user.startswith("Q: Why were the naval drills stalled?")
    assert user.endswith("Question: When were they")  # not the word still being typed
    condenser.prepare(HISTORY, "When")
    assert writer.llm.read[-1][0].endswith("Question:")
    # a finished question: the whole prompt, as the rewrite will send it, to its known start
    condenser.prepare(HISTORY, "When were they last held? ")
    assert writer.llm.read[-1] == (
        condenser._prompt(HISTORY, "When were they last held?"),
        "When were",
    )
    condenser.prepare(HISTORY, "Who leads Japan's navy?")  # stands alone: nothing to rewrite
    assert writer.llm.read[-1][1] is None


class Continuing:
    """An LLM that continues the given start of its reply (as llama.cpp does), from a script
    of continuations, word by word; records each start it was given."""

    name = "continuing"

    def __init__(self, *continuations: str):
        self.continuations = list(continuations)
        self.starts: list[str] = []
        self.pieces_read = 0

    def stream(self, system: str, user: str, max_tokens: int, prefill: str = "") -> Iterator[str]:
        self.starts.append(prefill)
        for word in self.continuations.pop(0).split(" ")[1:]:
            self.pieces_read += 1
            yield " " + word


def test_several_pointing_back_words_are_written_slot_by_slot(tmp_path: Path) -> None:
    settings = Settings.load(docs_dir=tmp_path, cache_dir=tmp_path / "c", condense="llm")
    history = [Exchange("Who is Japan's defense minister?", "Shinjiro Koizumi [1].")]
    model = Continuing(" Shinjiro Koizumi meet his", " his Korean counterpart?")
    rewrite = Condenser(settings.chat, lambda: model).rewrite(
        "Where did he meet his Korean counterpart?", history
    )
    assert model.starts == ["Where did", "Where did Shinjiro Koizumi meet"]
    assert rewrite == Rewrite("Where did Shinjiro Koizumi meet his Korean counterpart?", "llm")
    # a reply that adds a number the conversation never used is cut off there, and ruled out
    model = Continuing(" the 2019 summit talks and more words to come")
    rewrite = Condenser(settings.chat, lambda: model).rewrite("When was he there?", history)
    assert rewrite.method == "rules" and "'When was the 2019 summit' rejected" in rewrite.note
    assert model.pieces_read == 3  # "the", "2019", "summit": no more was read
