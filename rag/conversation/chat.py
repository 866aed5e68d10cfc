"""One conversation as a LlamaIndex chat engine: its memory (a ChatMemoryBuffer of questions
and the verified answers), the condense step and the engine's query engine.

    follow-up ─► Condenser (LLM rewrite, checked; else the rule) ─► standalone question
              ─► Engine's RetrieverQueryEngine ─► Answer (keeps the question as asked,
                 and what was searched for)

Each browser tab, `rag chat` session and eval conversation has its own Conversation; the
Engine (models, index, writers) is shared and never changed by one.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.chat_engine.types import (
    AgentChatResponse,
    BaseChatEngine,
    StreamingAgentChatResponse,
)
from llama_index.core.memory import ChatMemoryBuffer

from rag.answer.writers import final_answer
from rag.types import Answer, Exchange

if TYPE_CHECKING:
    from rag.engine import Engine


def exchanges(messages: Sequence[ChatMessage]) -> list[Exchange]:
    """Chat messages (user, assistant, user, ...) as the turns they make."""
    turns: list[Exchange] = []
    for m in messages:
        text = str(m.content or "")
        if m.role == MessageRole.USER:
            turns.append(Exchange(text, "", str(m.additional_kwargs.get("searched", ""))))
        elif m.role == MessageRole.ASSISTANT and turns and not turns[-1].answer:
            last = turns[-1]
            turns[-1] = Exchange(last.question, text, last.searched)
    return turns


def messages(history: Sequence[Exchange]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    for turn in history:
        kwargs = {"searched": turn.searched} if turn.searched else {}
        out.append(
            ChatMessage(role=MessageRole.USER, content=turn.question, additional_kwargs=kwargs)
        )
        if turn.answer:
            out.append(ChatMessage(role=MessageRole.ASSISTANT, content=turn.answer))
    return out


class Conversation(BaseChatEngine):
    """A chat over the engine. `options` (writer, top_k, evidence_k) apply to every turn;
    `prepare` has the LLM read the conversation ahead of the next follow-up, in the
    background, after each answer."""

    def __init__(
        self,
        engine: Engine,
        history: Sequence[Exchange] = (),
        prepare: bool = False,
        **options: Any,
    ):
        self.engine = engine
        self.options = options
        self.prepare = prepare
        self.memory = ChatMemoryBuffer.from_defaults(
            chat_history=messages(history),
            token_limit=engine.settings.chat.memory_words,
            tokenizer_fn=str.split,
        )

    @property
    def history(self) -> list[Exchange]:
        return exchanges(self.memory.get())

    @property
    def chat_history(self) -> list[ChatMessage]:
        return self.memory.get_all()

    def reset(self) -> None:
        self.memory.reset()

    def stream_answer(self, message: str) -> Iterator[str | Answer]:
        """The answer's text as it is written, then the verified Answer (last); the turn is
        remembered once it is answered."""
        history = self.history
        final: Answer | None = None
        for piece in self.engine.stream(message, history, **self.options):
            if isinstance(piece, Answer):
                final = piece
            yield piece
        if final is not None:
            turn = Exchange(final.question, final.text, final.searched)
            for m in messages([turn]):
                self.memory.put(m)
            if self.prepare:
                self._prepare_next([*history, turn])

    def _prepare_next(self, history: list[Exchange]) -> None:
        condenser = self.engine.condenser
        if condenser.loaded():
            threading.Thread(target=condenser.prepare, args=(history,), daemon=True).start()

    def answer(self, message: str) -> Answer:
        return final_answer(self.stream_answer(message))

    # -- LlamaIndex's chat-engine interface ------------------------------------------------------

    def chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> AgentChatResponse:
        if chat_history is not None:
            self.memory.set(chat_history)
        answer = self.answer(message)
        return AgentChatResponse(response=answer.text, metadata={"answer": answer})

    def stream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        if chat_history is not None:
            self.memory.set(chat_history)

        def deltas() -> Generator[ChatResponse, None, None]:
            for piece in self.stream_answer(message):
                if not isinstance(piece, Answer):
                    yield ChatResponse(
                        message=ChatMessage(role=MessageRole.ASSISTANT, content=piece), delta=piece
                    )

        response = StreamingAgentChatResponse(chat_stream=deltas())
        # LlamaIndex fills the response's queue from a thread that also writes the draft to a
        # memory; ours remembers the verified answer instead, so that one is a scratch memory.
        scratch = ChatMemoryBuffer.from_defaults(tokenizer_fn=str.split)
        threading.Thread(target=response.write_response_to_history, args=(scratch,)).start()
        return response

    async def achat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> AgentChatResponse:
        return await asyncio.to_thread(self.chat, message, chat_history)

    async def astream_chat(
        self, message: str, chat_history: list[ChatMessage] | None = None
    ) -> StreamingAgentChatResponse:
        return await asyncio.to_thread(self.stream_chat, message, chat_history)
