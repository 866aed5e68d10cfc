from __future__ import annotations

from rag.conversation.rules import (
    check_rewrite,
    conversation_block,
    hopeless,
    needs_context,
    prefill,
    rejoin,
    rejoin_slot,
    rule_rewrite,
    slots,
)
from rag.types import Exchange

DRILLS = [
    Exchange(
        "Why were the joint naval drills suspended?",
        "The exercises had been stalled due to tensions [1].",
    )
]


def test_which_questions_lean_on_the_conversation() -> None:
    assert needs_context("When were they last held?")
    assert needs_context("And in 2024?")
    assert needs_context("What about Japan?")
    assert needs_context("Why?")
    assert not needs_context("Where did the ministers meet?")
    assert not needs_context("Who is the South Korean defense minister?")


def test_the_rule_puts_the_topic_where_the_pronoun_was_without_its_verbs() -> None:
    q = rule_rewrite("When were they last held?", DRILLS)
    assert q == "When were joint naval drills last held?"
    assert "suspended" not in q  # the old question's verb would pull the old answer back


def test_the_rule_leaves_standalone_questions_and_first_questions_alone() -> None:
    q = "Where did the ministers meet?"
    assert rule_rewrite(q, DRILLS) == q
    assert rule_rewrite("When were they last held?", []) == "When were they last held?"


def test_the_rule_completes_an_ellipsis_from_the_previous_question() -> None:
    history = [Exchange("Who visited Japan in 2024?", "Shin Won-sik [1].")]
    assert rule_rewrite("And in 2017?", history) == "Who visited Japan in 2017?"
    assert rule_rewrite("What about Koizumi?", history) == "Who visited Japan in 2024 (Koizumi)?"


def test_the_rule_uses_what_the_previous_turn_searched_for() -> None:
    history = [Exchange("Where was it?", "", searched="Where was the summit?")]
    assert "summit" in rule_rewrite("Who attended it?", history)


def test_a_good_rewrite_passes_the_check() -> None:
    good = "When were the joint naval drills last held?"
    assert check_rewrite("When were they last held?", good, DRILLS) is None


def test_the_check_rejects_rewrites_that_change_or_answer_the_question() -> None:
    q = "When were they last held?"
    assert "question word" in check_rewrite(q, "Why were the drills held last?", DRILLS)
    lost = check_rewrite(q, "When were the joint naval drills suspended?", DRILLS)
    assert lost is not None and "lost" in lost
    answered = check_rewrite(q, "When were the drills last held? In 2017?", DRILLS)
    assert answered is not None
    assert "numbers" in check_rewrite(q, "When were the 2017 drills last held?", DRILLS)
    assert "words" in check_rewrite(q, "When were the Pacific Rim fleet drills last held?", DRILLS)
    assert check_rewrite(q, "When were they last held?", DRILLS) == "resolved nothing"
    assert check_rewrite(q, "", DRILLS) == "empty"
    assert check_rewrite(q, "When were the drills last held", DRILLS) == "not a question"


def test_the_reply_starts_with_the_known_words_and_stops_at_the_rest() -> None:
    q = "When were they last held?"
    assert prefill(q) == "When were "
    assert prefill("And in 2017?") == ""
    assert slots(q) == [("they", " last held?")]
    assert slots("Who did he meet there?") == [("he", " meet "), ("there", "?")]
    assert slots("And in 2017?") == []
    assert rejoin(" the joint naval", " last held?") is None
    assert rejoin(" the joint naval drills las", " last held?") is None
    assert (
        rejoin(" the joint naval drills last ", " last held?")
        == " the joint naval drills last held?"
    )
    assert rejoin(" last ", " last held?") is None  # nothing was written for "they"
    assert rejoin(" his Korean", " Korean counterpart?") == " his Korean counterpart?"  # kept


def test_a_reply_that_cannot_pass_the_check_is_known_early() -> None:
    q = "When were they last held?"
    assert hopeless(q, "When were the joint", DRILLS) is None
    assert hopeless(q, "When were the 2017", DRILLS) is None  # "2017" may still grow
    assert "numbers" in hopeless(q, "When were the 2017 drills", DRILLS)
    assert "points back" in hopeless(q, "When were those ", DRILLS)


def test_the_noun_of_a_pointing_back_word_may_be_replaced_whole() -> None:
    history = [Exchange("Where did the leaders hold a summit?", "In Nara [1].")]
    q = "How long did their meeting last?"
    assert check_rewrite(q, "How long did the summit in Nara last?", history) is None
    assert "lost" in check_rewrite(
        "How long did the meeting in Nara last?", "How long did Nara last?", history
    )


def test_the_conversation_block_cuts_answers_and_drops_markers() -> None:
    history = [
        Exchange("Q1?", "one two three four [1]."),
        Exchange("Q2?", ""),
        Exchange("Q3?", "x"),
    ]
    assert conversation_block(history, 2, 3) == "Q: Q2?\nQ: Q3?\nA: x"
    assert conversation_block(history[:1], 2, 3) == "Q: Q1?\nA: one two three …"


def test_a_question_word_fragment_takes_the_place_of_the_previous_ones() -> None:
    previous = [Exchange("When did Seoul and Tokyo decide to restart the drills?")]
    assert (
        rule_rewrite("Where?", previous)
        == "Where did Seoul and Tokyo decide to restart the drills?"
    )
    assert rule_rewrite("And for what purpose?", previous).startswith("For what purpose did Seoul")
    carrier = [Exchange("Which aircraft carrier did Ahn board?")]
    assert rule_rewrite("When?", carrier) == "When did Ahn board (aircraft carrier)?"
    assert rule_rewrite("By whom?", [Exchange("Who won?")]) == "Who won (By whom)?"


def test_a_few_words_that_are_no_whole_question_lean_on_the_conversation() -> None:
    assert needs_context("Complete or partial?")
    assert needs_context("Hosted by which country?")
    assert not needs_context("Who is Japan's prime minister?")
    assert not needs_context("Did Ahn visit Tokyo?")
    previous = [Exchange("What did the ministers commit to?")]
    assert rule_rewrite("Complete or partial?", previous) == (
        "What did the ministers commit to (Complete or partial)?"
    )


def test_a_rewrite_must_not_lean_on_the_conversation_itself() -> None:
    summit = [Exchange("Who represented Korea at the summit?", "Lee Jae Myung [1].")]
    assert check_rewrite("In which city?", "In which city?", summit) == "resolved nothing"
    assert "points back" in check_rewrite("And Japan?", "Who represented Japan there?", summit)
    assert check_rewrite("And Japan?", "Who represented Japan at the summit?", summit) is None


def test_there_of_there_are_points_nowhere() -> None:
    assert not needs_context("Who proved there are infinitely many primes?")
    assert needs_context("Who did he meet there?")


def test_questions_alone_get_what_the_rule_would_have_searched() -> None:
    from rag.conversation.rules import exchanges_of_questions

    turns = exchanges_of_questions(
        ["When did Seoul and Tokyo decide to restart the drills?", "Where?"]
    )
    assert turns[0].searched == ""
    assert turns[1].searched == "Where did Seoul and Tokyo decide to restart the drills?"
    assert rule_rewrite("For what purpose?", turns).startswith("For what purpose did Seoul")
    # the LLM is shown a pointing-back question as asked, not with the rule's bag of words
    turns = exchanges_of_questions(
        ["Why were the joint naval drills suspended?", "When were they last held?"]
    )
    assert "joint naval drills last held" in turns[1].searched
    assert conversation_block(turns, 2, 10).endswith("Q: When were they last held?")


def test_it_of_how_long_had_it_been_points_nowhere() -> None:
    q = "How long had it been since they were last held?"
    assert slots(q) == [("they", " were last held?")]
    assert (
        rule_rewrite(q, DRILLS) == "How long had it been since joint naval drills were last held?"
    )
    assert needs_context("When was it commissioned?")


def test_a_possessive_s_noun_replaced_whole_is_rejoined_after_it() -> None:
    after = " meeting last?"
    assert rejoin_slot(" the summit in Nara last", "their", after) == " the summit in Nara last?"
    assert rejoin_slot(" their meeting", "their", after) == " their meeting last?"
    assert rejoin_slot(" the summit in Nara last", "they", after) is None  # not a possessive
