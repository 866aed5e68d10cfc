"""Pure: what a question must be, and a follow-up made to stand alone for retrieval.

"When were they last held?" after "Why were the drills suspended?" is about the drills: a
question that leans on the conversation (a pronoun, or too few words of its own) gets the
content words of the previous question appended, in parentheses, before retrieval. The answer
type still comes from the new question, which stays first; the Answer keeps the question as
it was asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.errors import BadQuestion
from rag.text import STOPWORDS

_ANAPHORA = re.compile(
    r"\b(they|them|their|theirs|it|its|he|him|his|she|her|hers|that|those|these|this|there|"
    r"then|such|the same|the latter|the former|what about|and)\b",
    re.I,
)
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_QUESTION_WORDS = {"what", "who", "whom", "whose", "when", "where", "why", "how", "which"}


def check_question(question: str, max_chars: int) -> str:
    """The question, trimmed; BadQuestion when it is empty or too long (the limit applies to
    what the person typed, never to a rewritten follow-up)."""
    question = question.strip()
    if not question:
        raise BadQuestion(
            'the question is empty; ask something, e.g. "Why were the drills suspended?"'
        )
    if len(question) > max_chars:
        raise BadQuestion(
            f"the question is {len(question)} characters long; keep it under {max_chars} "
            "(set RAG_MAX_QUESTION_CHARS to change the limit)"
        )
    return question


def content_words(text: str) -> list[str]:
    return [
        w
        for w in _WORD.findall(text)
        if w.lower() not in STOPWORDS and w.lower() not in _QUESTION_WORDS
    ]


def is_follow_up(question: str) -> bool:
    return bool(_ANAPHORA.search(question)) or len(content_words(question)) <= 2


def standalone_question(question: str, history: Sequence[str]) -> str:
    """The question to retrieve with: itself, or itself plus the topic of the previous turn."""
    question = question.strip()
    if not history or not is_follow_up(question):
        return question
    topic = [w for w in content_words(history[-1]) if w.lower() not in question.lower()]
    if not topic:
        return question
    return f"{question} ({' '.join(topic)})"
