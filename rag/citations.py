"""Pure: [n] citation markers, and turning them into citations of evidence sentences."""

from __future__ import annotations

import re
from collections.abc import Sequence

from rag.types import Citation, Evidence

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
            out.append(
                Citation(
                    n=n, doc_id=s.doc_id, sentence_id=s.id, start=s.start, end=s.end, text=s.text
                )
            )
    return tuple(out)
