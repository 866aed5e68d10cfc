from __future__ import annotations

import pytest

from rag.errors import BadQuestion
from rag.question import check_question


def test_check_question_trims_and_names_the_limit() -> None:
    assert check_question("  Why?  ", 10) == "Why?"
    with pytest.raises(BadQuestion, match="empty"):
        check_question(" \n ", 10)
    with pytest.raises(BadQuestion, match="11 characters long; keep it under 10"):
        check_question("x" * 11, 10)
