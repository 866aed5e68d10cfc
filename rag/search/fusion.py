"""Pure: reciprocal rank fusion of several rankings of the same items."""

from __future__ import annotations

from collections.abc import Sequence


def rrf(rankings: Sequence[Sequence[str]], k: float = 60.0) -> list[tuple[str, float]]:
    """Ids ordered by the sum of 1 / (k + rank) over the rankings; ties broken by id, so the
    order is the same on every run."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank + 1)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
