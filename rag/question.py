"""Pure: what a question must be before it is answered. (How a follow-up is made to stand
alone is rag/conversation/.)"""

from __future__ import annotations

from rag.errors import BadQuestion


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
