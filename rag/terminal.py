"""`rag chat`: a conversation in the terminal. Answers stream as they are written; the
verified answer follows when it differs from the draft, then its citations and, for a
rewritten follow-up, what was searched for. `/new` starts over; Ctrl-D (or /quit) ends."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from rag.answer.writers import LOW_CONFIDENCE
from rag.errors import BadQuestion, RagError
from rag.types import Answer

if TYPE_CHECKING:
    from rag.conversation.chat import Conversation

HELP = "Ask a question about the documents. /new starts a new conversation; Ctrl-D quits."


def print_answer(answer: Answer, draft: str, out: TextIO) -> None:
    if draft.strip() and answer.text.strip() != draft.strip():
        out.write(f"\nchecked answer: {answer.text}")
    elif not draft.strip():
        out.write(answer.text)
    out.write("\n")
    if answer.low_confidence:
        out.write(f"  ({LOW_CONFIDENCE})\n")
    for c in answer.citations:
        where = f"page {c.page}, " if c.page else ""
        out.write(f"  [{c.n}] {c.doc_id} ({where}{c.start}-{c.end}): {c.text}\n")
    if answer.searched:
        out.write(f"  searched: {answer.searched}\n")


def run(
    new_conversation: Callable[[], Conversation],
    read: Callable[[str], str],
    out: TextIO,
) -> int:
    """The loop: `read` is input() (EOFError ends it), `out` where answers go."""
    out.write(HELP + "\n")
    conversation = new_conversation()
    while True:
        try:
            line = read("you> ").strip()
        except EOFError:
            out.write("\n")
            return 0
        if not line:
            continue
        if line in {"/quit", "/exit"}:
            return 0
        if line == "/new":
            conversation.reset()
            out.write("(new conversation)\n")
            continue
        if line.startswith("/"):
            out.write(f"unknown command {line}; {HELP}\n")
            continue
        draft = ""
        try:
            for piece in conversation.stream_answer(line):
                if isinstance(piece, Answer):
                    print_answer(piece, draft, out)
                else:
                    draft += piece
                    out.write(piece)
                    out.flush()
        except BadQuestion as exc:
            out.write(f"please rephrase: {exc}\n")
        except KeyboardInterrupt:
            out.write("\n(stopped)\n")
        except RagError as exc:
            out.write(f"\nerror: {exc}\n")
