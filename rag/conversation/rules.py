"""Pure: when a follow-up leans on the conversation, the rule-based rewrite (the fallback when
no LLM can condense), and the check every LLM rewrite must pass before retrieval uses it.

"When were they last held?" after "Why were the drills suspended?" leans on the conversation
("they"); "Where did the ministers meet?" does not, and must not inherit the old topic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.text import STOPWORDS, stem
from rag.types import Exchange

# Words that point back into the conversation. "the same", "the former" and "the latter" too.
_VAGUE = re.compile(
    r"\b(they|them|their|theirs|"
    r"it(?!\s+(?:been|(?:is|was)\s+(?:true|possible|likely|clear|known|said|reported))\b)|"
    r"its|he|him|his|she|her|hers|that|those|these|this|"
    r"there(?!\s+(?:is|are|was|were|has|have|had|will|would|may|might|must|can|could|should|"
    r"seems?|exists?)\b)|then|such|the same|the former|the latter)\b",
    re.I,
)  # "there" of "there are many primes" and "it" of "how long had it been" point nowhere
_POSSESSIVE = {"their", "theirs", "its", "his", "her", "hers"}
# A possessive before a noun, and that noun: "their meeting", "its crew" (not "that time":
# "all that time" is no thing of the conversation's)
_POSSESSED = re.compile(r"\b(?i:their|its|his|her)\s+([a-z][^\W\d_]*)")
# A fragment that continues the previous question: "And in 2024?", "What about Japan?"
_ELLIPSIS = re.compile(r"^\s*(and|what about|how about|and what about|what of|or)\b[\s,]*", re.I)
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
_NUMBER = re.compile(r"\d")
QUESTION_WORDS = ("what", "who", "whom", "whose", "when", "where", "why", "how", "which")
_WH = "|".join(QUESTION_WORDS)
_PREP = r"(?:in|on|at|for|by|from|with|to|since|during|against|amid|between|of|after|before)"
# A question that is only a question word, maybe with a preposition and a noun or two:
# "Where?", "By whom?", "In which city?", "For what purpose?"
_WH_FRAGMENT = re.compile(
    rf"^\s*((?:{_PREP}\s+)?(?:{_WH})\b(?:\s+[^\W\d_]+){{0,2}})\s*\?\s*$", re.I
)
_AUXILIARY = {
    "is",
    "are",
    "was",
    "were",
    "do",
    "does",
    "did",
    "has",
    "have",
    "had",
    "will",
    "would",
    "can",
    "could",
    "should",
    "may",
    "might",
    "must",
    "isn't",
    "aren't",
    "wasn't",
    "weren't",
    "don't",
    "doesn't",
    "didn't",
    "haven't",
    "hasn't",
    "won't",
    "can't",
}
MAX_REWRITE_CHARS = 300
# What pointing-back words stand for are names or noun phrases; a rewrite twelve words
# longer than the follow-up has a clause copied from an answer in it.
MAX_ADDED_WORDS = 12


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def content_words(text: str) -> list[str]:
    """The words that carry meaning: no stop word, no question word, no pointing-back word."""
    return [
        w
        for w in words(text)
        if w.lower() not in STOPWORDS
        and w.lower() not in QUESTION_WORDS
        and not _VAGUE.fullmatch(w)
    ]


def _stems(text: str) -> set[str]:
    return {stem(w.lower()) for w in content_words(text)}


def question_word(text: str) -> str | None:
    """The first question word of a question ("when" of "And when did it end?")."""
    for w in words(text):
        if w.lower() in QUESTION_WORDS:
            return w.lower()
    return None


def is_ellipsis(question: str) -> bool:
    return bool(_ELLIPSIS.match(question))


def is_fragment(question: str) -> bool:
    """A few words that are no whole question: they neither start with a question word nor
    with a verb asking one ("Complete or partial?", "Hosted by which country?")."""
    found = words(question)
    return 0 < len(found) <= 4 and found[0].lower() not in {*QUESTION_WORDS, *_AUXILIARY}


def needs_context(question: str) -> bool:
    """Does the question lean on the conversation: a word pointing back ("they", "there"), a
    fragment continuing the last question ("And in 2024?", "Complete or partial?"), or
    almost no words of its own?"""
    return (
        bool(_VAGUE.search(question))
        or is_ellipsis(question)
        or is_fragment(question)
        or len(content_words(question)) <= 1
    )


def last_topic(history: Sequence[Exchange]) -> str:
    """The previous turn's subject, by rule: the content words of what it searched for, less
    the likely verbs (words in -ed or -ing: "suspended", "meeting"), which would pull retrieval
    back to the previous answer."""
    if not history:
        return ""
    previous = history[-1].searched or history[-1].question
    kept = [
        w
        for w in content_words(previous)
        if w[:1].isupper() or not w.lower().endswith(("ed", "ing"))
    ]
    return " ".join(kept or content_words(previous))


def complete_fragment(fragment: str, previous: str) -> str:
    """A question-word fragment put in the place of the previous question's question phrase:
    "Where?" after "When did the museum reopen?" is "Where did the museum reopen?"; the
    noun of that phrase is kept in parentheses ("Which carrier did Ahn board?", "When?":
    "When did Ahn board (carrier)?")."""
    tokens = previous.strip().rstrip("?").split()
    fragment = fragment.strip().rstrip("?").strip()
    fragment = fragment[:1].upper() + fragment[1:]
    i = 0
    while i < len(tokens) and re.fullmatch(_PREP, tokens[i], re.I):
        i += 1
    j = i + 1
    while j < len(tokens) and tokens[j].lower() not in _AUXILIARY:
        j += 1
    if i >= len(tokens) or tokens[i].lower() not in QUESTION_WORDS or j >= len(tokens):
        # not a question-word question, or its question word is the subject ("Who won?")
        return f"{previous.strip().rstrip('?')} ({fragment})?"
    noun = " ".join(tokens[i + 1 : j])
    rest = " ".join(tokens[j:])
    return f"{fragment} {rest}" + (f" ({noun})?" if noun else "?")


def rule_rewrite(question: str, history: Sequence[Exchange]) -> str:
    """The follow-up made to stand alone by rule: an ellipsis completes the previous question
    (a number or year in it replaced by the fragment's), a pointing-back word is replaced by
    the previous turn's topic. A question that stands alone is returned unchanged."""
    question = question.strip()
    if not history or not needs_context(question):
        return question
    previous = (history[-1].searched or history[-1].question).strip()
    body = _ELLIPSIS.sub("", question) if is_ellipsis(question) else question
    if _WH_FRAGMENT.match(body):
        return complete_fragment(body, previous)
    if is_fragment(question) and not _VAGUE.search(question) and not is_ellipsis(question):
        return f"{previous.rstrip('?')} ({question.strip().rstrip('?')})?"
    if is_ellipsis(question):
        fragment = _ELLIPSIS.sub("", question).strip().rstrip("?").strip()
        numbers = re.findall(r"\b\d[\d,.]*\b", fragment)
        old = re.findall(r"\b\d[\d,.]*\b", previous)
        if len(numbers) == 1 and len(old) == 1:
            return previous.replace(old[0], numbers[0], 1)
        return f"{previous.rstrip('?')} ({fragment})?" if fragment else previous
    topic = last_topic(history)
    known = {w.lower() for w in words(question)}
    topic = " ".join(w for w in topic.split() if w.lower() not in known)
    if not topic:
        return question
    match = _VAGUE.search(question)
    if match is None:  # too few words of its own: add the topic
        return f"{question.rstrip('?')} ({topic})?"
    replacement = f"{topic}'s" if match.group(0).lower() in _POSSESSIVE else topic
    if match.group(0).lower() in {"there", "then"}:
        replacement = f"{match.group(0)} ({topic})"
    return question[: match.start()] + replacement + question[match.end() :]


def exchanges_of_questions(questions: Sequence[str]) -> list[Exchange]:
    """Earlier questions alone (the /ask API's history) as turns, each with what the rule would
    have searched for: "For what purpose?" after "Where?" after "When did X happen?" then
    leans on "Where did X happen?", not on the bare "Where?"."""
    turns: list[Exchange] = []
    for question in questions:
        rewrite = rule_rewrite(question, turns)
        turns.append(Exchange(question, "", rewrite if rewrite != question.strip() else ""))
    return turns


def check_rewrite(question: str, rewrite: str, history: Sequence[Exchange]) -> str | None:
    """Why an LLM's rewrite cannot be used, or None when it can. It must be one question that
    keeps the follow-up's question word and its words (the intent), and add only words that
    the conversation used (anything else, a number above all, may be the model answering).
    The noun a possessive goes with may be replaced with the whole: "their meeting" may
    become "the summit in Nara"."""
    rewrite = rewrite.strip()
    if not rewrite:
        return "empty"
    if len(rewrite) > MAX_REWRITE_CHARS or "\n" in rewrite:
        return "not a single short question"
    if question.rstrip().endswith("?") and not rewrite.endswith("?"):
        return "not a question"
    if rewrite.count("?") > 1:
        return "more than one question"
    wh = question_word(question)
    if wh is not None and wh not in {w.lower() for w in words(rewrite)}:
        return f"lost the question word {wh!r}"
    kept = _stems(rewrite)
    replaceable = {m.group(1).lower() for m in _POSSESSED.finditer(question)}
    lost = [
        w
        for w in content_words(question)
        if stem(w.lower()) not in kept and w.lower() not in replaceable
    ]
    if lost:
        return f"lost the words {lost}"
    if _stems(rewrite) <= _stems(question):
        return "resolved nothing"  # only the follow-up's own words: it still leans on the talk
    return _additions_problem(question, rewrite, history)


def _additions_problem(question: str, rewrite: str, history: Sequence[Exchange]) -> str | None:
    """What the rewrite adds that it must not: a pointing-back word of its own, a number or
    more than one word that the conversation did not use."""
    asked = {m.group(0).lower() for m in _VAGUE.finditer(question)}
    own = _stems(question)
    new_vague = []
    for m in _VAGUE.finditer(rewrite):
        word = m.group(0).lower()
        # "his trip" after the rewrite named him ("When is Ahn expected to make his trip?")
        # points inside the question, not back to the conversation
        named = any(stem(w.lower()) not in own for w in content_words(rewrite[: m.start()]))
        if word not in asked and not (word in _POSSESSIVE and named):
            new_vague.append(m.group(0))
    if new_vague:
        return f"points back to the conversation: {new_vague}"
    said = set(own)
    for turn in history:
        said |= _stems(turn.question) | _stems(turn.answer) | _stems(turn.searched)
    added = [w for w in content_words(rewrite) if stem(w.lower()) not in said]
    if any(_NUMBER.search(w) for w in added):
        return f"added numbers the conversation did not use: {added}"
    if len(added) > 1:
        return f"added words the conversation did not use: {added}"
    return None


# -- the LLM's reply, continued from the follow-up's own first words ---------------------------


def prefill(question: str) -> str:
    """The start of the rewrite that is known already: the follow-up's words before its first
    pointing-back word ("When were" of "When were they last held?"). The model continues from
    there, so it neither re-types them nor changes the question word."""
    if is_ellipsis(question):
        return ""
    match = _VAGUE.search(question)
    return question[: match.start()] if match and match.start() > 0 else ""


def slots(question: str) -> list[tuple[str, str]]:
    """The follow-up after its known start, cut at each pointing-back word: (the word, the
    follow-up's text from it to the next one). "Where did he meet his Korean counterpart?"
    gives ("he", " meet "), ("his", " Korean counterpart?"). The model writes what each word
    stands for; once it reaches the known text after it, that text is copied, not written."""
    if is_ellipsis(question):
        return []
    found = list(_VAGUE.finditer(question))
    return [
        (m.group(0), question[m.end() : found[i + 1].start() if i + 1 < len(found) else None])
        for i, m in enumerate(found)
    ]


def rejoin(generated: str, after: str) -> str | None:
    """What the model wrote for a pointing-back word, once it has gone on to the first word of
    `after` (the known text that follows), with `after` put back whole; None until then. The
    model may keep the word as it was ("his" of "meet his Korean counterpart"). (A word the
    model would go on lengthening, "last" into "lastly", is taken as written: one token saved
    on every rewrite is worth that rare miss.)"""
    after_words = words(after)
    if not after_words:
        return None
    match = re.search(rf"\b{re.escape(after_words[0])}(?=[\s?.,;!]|$)", generated, re.I)
    if match is None:
        return None
    before = generated[: match.start()].rstrip()
    if len(words(before)) < 1:
        return None
    if {w.lower() for w in words(before)} & {a.lower() for a in after_words}:
        return None  # the model is re-ordering the question: let it finish
    return f"{before}{after if after[:1].isspace() else ' ' + after}"


def rejoin_slot(generated: str, word: str, after: str) -> str | None:
    """`rejoin`, and for a possessive ("their" of "their meeting last?") also once the model
    has gone past the noun it replaced whole ("the summit in Nara last")."""
    joined = rejoin(generated, after)
    if joined is None and word.lower() in _POSSESSIVE:
        noun = re.match(r"\s*[a-z][^\W\d_]*", after)
        if noun and words(after[noun.end() :]):
            joined = rejoin(generated, after[noun.end() :])
    return joined


def hopeless(question: str, partial: str, history: Sequence[Exchange]) -> str | None:
    """Why a rewrite still being written can no longer pass `check_rewrite`, judged on its
    whole words only (the last one may still grow), or None: what the model adds does not
    go away, so there is no use waiting for the rest."""
    whole = partial if partial[-1:] in {"", " ", "?", ",", "."} else partial.rsplit(" ", 1)[0]
    return _additions_problem(question, whole, history)


def conversation_block(history: Sequence[Exchange], max_turns: int, max_answer_words: int) -> str:
    """The last turns as the condense prompt shows them: Q:/A: lines, answers without their
    [n] markers and cut to a few words."""
    lines: list[str] = []
    for turn in history[-max_turns:]:
        # without its answer (the /ask API), a fragment is clearer as the rule completed it
        # ("Where did X happen?" for "Where?"); a pointing-back question is clearer as asked
        # than with the rule's bag of the previous turn's words in place of "they"
        whole = turn.answer or _VAGUE.search(turn.question) or not turn.searched
        asked = turn.question if whole else turn.searched
        lines.append(f"Q: {asked.strip()}")
        answer = re.sub(r"\s*\[\d+\]", "", turn.answer).strip()
        if answer:
            cut = answer.split()
            more = " …" if len(cut) > max_answer_words else ""
            lines.append("A: " + " ".join(cut[:max_answer_words]) + more)
    return "\n".join(lines)
