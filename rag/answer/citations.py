"""Pure: [n] citation markers, and turning them into citations of evidence sentences."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rag.ingest.sentences import split_sentences
from rag.settings import AnswerSettings
from rag.text import STOPWORDS, tokens
from rag.types import Citation, Evidence

if TYPE_CHECKING:
    import numpy as np

MARKER = re.compile(r"\[(\d{1,3})\]")


def markers(text: str) -> list[int]:
    """The numbers of the [n] markers in order of first appearance."""
    seen: list[int] = []
    for match in MARKER.finditer(text):
        n = int(match.group(1))
        if n not in seen:
            seen.append(n)
    return seen


def resolve(text: str, evidence: Sequence[Evidence]) -> tuple[Citation, ...]:
    """A citation for every marker that names an evidence sentence ([1] is evidence[0])."""
    out = []
    for n in markers(text):
        if 1 <= n <= len(evidence):
            s = evidence[n - 1].sentence
            out.append(Citation(n, s.doc_id, s.id, s.start, s.end, s.text, s.page))
    return tuple(out)


# -- support: does a claim follow from the sentences it cites? ----------------------------------

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b[A-Z][\w'’-]*[a-z]\w*")  # capitalised words: "Koizumi", "Self-Defense"
Embed = Callable[[Sequence[str]], "np.ndarray"]
# the reader's P(the sentence answers the question), for evidence sentences of this question
Read = Callable[[Sequence[Evidence]], Sequence[float]]


@dataclass(frozen=True)
class Support:
    supported: bool
    coverage: float  # share of the claim's new content words found in the cited sentences
    similarity: float | None  # cosine of claim and best cited sentence, when an embedder is given
    reason: str  # why not, when not supported


def claim_sentences(text: str) -> list[str]:
    """An answer split into its claims: sentences (split as documents are, so "Vice Adm."
    stays whole), each keeping the markers that follow it ("... Korea. [1]")."""
    claims: list[str] = []
    for sentence in split_sentences("answer", text):
        lead = re.match(r"^(?:\s*\[\d{1,3}\])+", sentence.text)
        if lead and claims:
            claims[-1] += lead.group(0)
            rest = sentence.text[lead.end() :].strip()
        else:
            rest = sentence.text
        if rest:
            claims.append(rest)
    return claims


def strip_markers(text: str) -> str:
    return re.sub(r"\s*\[\d{1,3}\]", "", text).strip()


def support(
    claim: str,
    cited: Sequence[str],
    question: str,
    similarity: float | None,
    rules: AnswerSettings,
    min_coverage: float | None = None,
) -> Support:
    """Is `claim` (markers removed) supported by the `cited` sentences?

    Hard rules first: every number and every capitalised name in the claim must appear in the
    cited sentences (or, for names, in the question). Then the claim's content words that the
    question did not already bring must mostly be found in the cited sentences (coverage), or,
    for a paraphrase, the claim must be close in meaning to a cited sentence (similarity) with
    some coverage still (the thresholds are the support_* settings).
    """
    if min_coverage is None:
        min_coverage = rules.support_min_coverage
    source = " ".join(cited)
    if not source:
        return Support(False, 0.0, similarity, "cites nothing")
    src_numbers = set(_NUMBER.findall(source))
    for number in _NUMBER.findall(claim):
        if number not in src_numbers:
            return Support(False, 0.0, similarity, f"number {number} is not in the cited text")
    src_lower = source.lower() + " " + question.lower()
    for name in _NAME.findall(claim):
        if name.lower().rstrip("'’s") not in src_lower and not _is_sentence_start(claim, name):
            return Support(False, 0.0, similarity, f"name {name} is not in the cited text")
    new_words = set(tokens(claim)) - set(tokens(question))
    found = set(tokens(source))
    coverage = len(new_words & found) / len(new_words) if new_words else 1.0
    if coverage >= min_coverage:
        return Support(True, coverage, similarity, "")
    if (
        similarity is not None
        and similarity >= rules.support_min_similarity
        and coverage >= min_coverage - rules.support_similarity_slack
    ):
        return Support(True, coverage, similarity, "")
    return Support(False, coverage, similarity, f"only {coverage:.0%} of its content is cited")


def _is_sentence_start(claim: str, name: str) -> bool:
    """A capitalised common word opening the claim ("The", "According") is not a name."""
    return claim.lstrip("\"'“ ").startswith(name) and name.lower() in STOPWORDS


@dataclass(frozen=True)
class Verified:
    text: str  # the answer with repaired markers, or "" when a claim could not be supported
    citations: tuple[Citation, ...]
    repaired: bool
    problems: tuple[str, ...]
    invented: bool = False  # a claim names a number or name that no evidence sentence has


NO_CLAIMS = "no answer, only markers"


def verify_answer(
    text: str,
    question: str,
    evidence: Sequence[Evidence],
    rules: AnswerSettings,
    embed: Embed | None = None,
    read: Read | None = None,
) -> Verified:
    """Check every claim of an LLM answer against the evidence it cites.

    A claim whose markers are missing, out of range or unsupported is re-cited to the evidence
    sentence that supports it best, when one does; otherwise verification fails (text "").
    With a reader (`read`), a claim is supported only when one of its cited sentences answers
    the question (P at least support_min_reader): a true sentence cited for a question it does
    not answer (a neighbour of the one that does) is a wrong citation.
    """
    answers = _Answers(evidence, read, rules.support_min_reader)
    claims = [c for c in claim_sentences(text) if strip_markers(c)]
    if not claims:
        return Verified("", (), False, (NO_CLAIMS,))
    bare = [strip_markers(c) for c in claims]
    sims = None
    if embed is not None and evidence:
        vectors = embed([*bare, *(e.sentence.text for e in evidence)])
        sims = vectors[: len(bare)] @ vectors[len(bare) :].T
    out: list[str] = []
    problems: list[str] = []
    repaired = False
    for i, (claim, plain) in enumerate(zip(claims, bare, strict=True)):
        numbers = [n for n in markers(claim) if 1 <= n <= len(evidence)]
        cited = [evidence[n - 1].sentence.text for n in numbers]
        best_sim = (
            max((float(sims[i, n - 1]) for n in numbers), default=None)
            if sims is not None
            else None
        )
        check = support(plain, cited, question, best_sim, rules)
        answers_it = answers.any(numbers)
        if check.supported and not answers_it:
            check = Support(False, check.coverage, best_sim, "the cited text does not answer")
        if not check.supported and numbers and answers_it:
            # the model drew on the sentence it cited and took a name or a word from another
            # one ("invited Shinjiro Koizumi", the full name said earlier): cite both
            added = _completion(plain, cited, question, best_sim, evidence, numbers, rules)
            if added is not None:
                numbers = [*numbers, added]
                problems.append(f"claim {i + 1} also cites [{added}]: {check.reason}")
                check = Support(True, 1.0, best_sim, "")
        if not check.supported:
            alternatives = []
            for j, ev in enumerate(evidence):
                sim = float(sims[i, j]) if sims is not None else None
                alt = support(plain, [ev.sentence.text], question, sim, rules)
                if alt.supported and answers.any([j + 1]):
                    alternatives.append((alt.coverage + (sim or 0.0), j + 1))
            if not alternatives:
                problems.append(f"claim {i + 1}: {check.reason}")
                everything = [e.sentence.text for e in evidence]
                anywhere = support(
                    plain, everything, question, None, rules, rules.support_anywhere_coverage
                )
                return Verified("", (), repaired, tuple(problems), not anywhere.supported)
            numbers = [max(alternatives)[1]]
            repaired = True
            problems.append(f"claim {i + 1} re-cited to [{numbers[0]}]: {check.reason}")
        out.append(plain.rstrip() + " " + "".join(f"[{n}]" for n in numbers))
    final = " ".join(out)
    return Verified(final, resolve(final, evidence), repaired, tuple(problems))


class _Answers:
    """Which evidence sentences answer the question, by the reader, read once each and only
    when asked (a small corpus shown whole has many more sentences than any answer cites)."""

    def __init__(self, evidence: Sequence[Evidence], read: Read | None, at_least: float):
        self.evidence, self.read, self.at_least = evidence, read, at_least
        self.known = {i + 1: e.reader for i, e in enumerate(evidence) if e.reader is not None}

    def any(self, numbers: Sequence[int]) -> bool:
        """Does one of these (1-based) evidence sentences answer? True without a reader."""
        if self.read is None or not numbers:
            return True
        missing = [n for n in numbers if n not in self.known]
        if missing:
            scores = self.read([self.evidence[n - 1] for n in missing])
            self.known.update(zip(missing, map(float, scores), strict=True))
        return any(self.known[n] >= self.at_least for n in numbers)


def _completion(
    claim: str,
    cited: Sequence[str],
    question: str,
    similarity: float | None,
    evidence: Sequence[Evidence],
    numbers: Sequence[int],
    rules: AnswerSettings,
) -> int | None:
    """The [n] of an evidence sentence that, cited beside `cited`, makes the claim supported
    (the first in the evidence's order); None when none does. Only for a claim
    whose cited sentences hold most of its content already (at least the coverage a
    paraphrase needs), so a second sentence completes the claim rather than makes it."""
    new_words = set(tokens(claim)) - set(tokens(question))
    found = set(tokens(" ".join(cited)))
    floor = rules.support_min_coverage - rules.support_similarity_slack
    if new_words and len(new_words & found) / len(new_words) < floor:
        return None
    for n, ev in enumerate(evidence, start=1):
        if n in numbers:
            continue
        if support(claim, [*cited, ev.sentence.text], question, similarity, rules).supported:
            return n
    return None
