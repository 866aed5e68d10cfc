from __future__ import annotations

import pytest

from rag.errors import BadQuestion
from rag.question import check_question, is_follow_up, standalone_question


def test_follow_up_gets_the_previous_topic() -> None:
    q = standalone_question("When were they last held?", ["Why were the drills suspended?"])
    assert q.startswith("When were they last held?")
    assert "drills" in q and "suspended" in q


def test_standalone_questions_are_left_alone() -> None:
    history = ["Why were the drills suspended?"]
    q = "Who is the South Korean defense minister?"
    assert not is_follow_up(q)
    assert standalone_question(q, history) == q
    assert standalone_question("When were they last held?", []) == "When were they last held?"


def test_short_questions_count_as_follow_ups() -> None:
    assert is_follow_up("And Japan?")
    assert "Koizumi" in standalone_question("Where?", ["Who is Koizumi?"])


def test_check_question_trims_and_names_the_limit() -> None:
    assert check_question("  Why?  ", 10) == "Why?"
    with pytest.raises(BadQuestion, match="empty"):
        check_question(" \n ", 10)
    with pytest.raises(BadQuestion, match="11 characters long; keep it under 10"):
        check_question("x" * 11, 10)
