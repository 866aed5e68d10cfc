"""Confidence bounds of ratio metrics, and the gate that reads them: pure functions over plain
data (numpy for the bootstrap).

Every gated metric is a ratio of sums over questions (or turns): each adds a numerator and a
denominator, its "part", and the metric is sum(numerators) / sum(denominators). A metric whose
parts are whole numbers (a share of counted questions, sentences or markers) gets a Wilson
interval from its counts; a mean of fractional values (F1, reciprocal ranks, shares of gold
sentences cited) a seeded percentile bootstrap over its questions. Each bound alone holds with
the one-sided confidence of z (95% at 1.645): a minimum reads the lower bound, a maximum
(a key "max:NAME") the upper one. Against a previous run of the same questions, a paired
bootstrap of new - old flags a metric that is worse with that confidence.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Literal

import numpy as np

Z_ONE_SIDED_95 = 1.645
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
_BATCH = 200  # resamples drawn at a time

Part = tuple[float, float]  # (numerator, denominator) one question adds to a metric


def confidence_label(z: float) -> str:
    """The one-sided confidence of a bound at z, as people write it: "95%"."""
    return f"{NormalDist().cdf(z) * 100:.3g}%"


def wilson_interval(successes: int, n: int, z: float = Z_ONE_SIDED_95) -> tuple[float, float]:
    """Wilson score interval of a share successes/n; each end is a one-sided bound at z."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(
            f"wilson_interval needs 0 <= successes <= n and n > 0, got {successes}/{n}"
        )
    p = successes / n
    z2 = z * z
    centre = p + z2 / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    scale = 1 + z2 / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def _resampled(
    arrays: Sequence[np.ndarray], resamples: int, seed: int
) -> Iterator[list[np.ndarray]]:
    """The arrays indexed by the same seeded resamples of their positions, a batch at a time
    (memory stays at _BATCH x questions)."""
    rng = np.random.default_rng(seed)
    n = len(arrays[0])
    for done in range(0, resamples, _BATCH):
        idx = rng.integers(0, n, size=(min(_BATCH, resamples - done), n))
        yield [a[idx] for a in arrays]


def _bootstrap(rows: Sequence[Sequence[Part]], resamples: int, seed: int) -> np.ndarray:
    """Resampled values of a ratio metric over one or two rows of parts (one part a question,
    the rows resampled alike); with two rows, the paired difference, second minus first."""
    arrays = [np.asarray([p[i] for p in row], dtype=float) for row in rows for i in (0, 1)]
    values = []
    for batch in _resampled(arrays, resamples, seed):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = [
                batch[i].sum(axis=1) / batch[i + 1].sum(axis=1) for i in range(0, len(batch), 2)
            ]
        values.append(ratios[1] - ratios[0] if len(ratios) == 2 else ratios[0])
    return np.concatenate(values)


def _tails(samples: np.ndarray, z: float) -> tuple[float, float] | None:
    finite = samples[np.isfinite(samples)]
    if not finite.size:
        return None
    alpha = 1.0 - NormalDist().cdf(z)
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_bounds(
    parts: Sequence[Part],
    z: float = Z_ONE_SIDED_95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """Percentile bootstrap bounds of sum(numerators) / sum(denominators) over the questions."""
    if not parts:
        return None
    return _tails(_bootstrap([parts], resamples, seed), z)


def metric_bounds(
    parts: Iterable[Mapping[str, Part]],
    names: Iterable[str],
    z: float = Z_ONE_SIDED_95,
    bootstrapped: Collection[str] = (),
) -> tuple[dict[str, list[int]], dict[str, dict[str, object]]]:
    """({metric: [successes, n]} of the counted metrics, {metric: {lower, upper, method}})."""
    pooled: dict[str, list[Part]] = {}
    for question in parts:
        for name, part in question.items():
            pooled.setdefault(name, []).append(part)
    counts: dict[str, list[int]] = {}
    bounds: dict[str, dict[str, object]] = {}
    for name in names:
        items = [p for p in pooled.get(name, []) if p[1] > 0]
        if not items:
            continue
        if name in bootstrapped:
            found, method = bootstrap_bounds(items, z), "bootstrap"
        else:
            k, n = round(sum(p[0] for p in items)), round(sum(p[1] for p in items))
            counts[name] = [k, n]
            found, method = wilson_interval(k, n, z), "wilson"
        if found:
            bounds[name] = {"lower": found[0], "upper": found[1], "method": method}
    return counts, bounds


# -- thresholds -------------------------------------------------------------------------------


def _limit(key: str) -> tuple[str, Literal["minimum", "maximum"]]:
    name = key.removeprefix("max:")
    return name, "maximum" if name != key else "minimum"


@dataclass(frozen=True)
class GateLine:
    """One threshold read against its confidence bound: the lower bound of a minimum's metric,
    the upper bound of a maximum's. Without a known bound the value itself is read."""

    name: str
    kind: Literal["minimum", "maximum"]
    limit: float
    value: float | None
    bound: float | None
    label: str = "95%"

    @property
    def ok(self) -> bool:
        if self.value is None:
            return False
        read = self.value if self.bound is None else self.bound
        return read >= self.limit if self.kind == "minimum" else read <= self.limit

    def text(self) -> str:
        verdict = "ok" if self.ok else "FAIL"
        if self.value is None:
            return f"{self.name}: no value vs {self.kind} {self.limit:.3f}: {verdict}"
        bound = "no bound" if self.bound is None else f"{self.label} bound {self.bound:.3f}"
        return f"{self.name}: {self.value:.3f} ({bound}) vs {self.kind} {self.limit:.3f}: {verdict}"

    def record(self) -> dict[str, object]:
        return {
            "metric": self.name,
            "kind": self.kind,
            "limit": self.limit,
            "value": self.value,
            "bound": self.bound,
            "ok": self.ok,
            "line": self.text(),
        }


def gate_lines(metrics: Mapping[str, object], thresholds: Mapping[str, float]) -> list[GateLine]:
    """Every threshold against its metric's bound (from `summarize`'s "bounds"), by key.
    A threshold is a minimum, or a maximum when its key starts with "max:"."""
    bounds = metrics.get("bounds")
    bounds = bounds if isinstance(bounds, Mapping) else {}
    z = metrics.get("bounds_z")
    label = confidence_label(z) if isinstance(z, int | float) else "95%"
    lines = []
    for key, limit in sorted(thresholds.items()):
        name, kind = _limit(key)
        value = metrics.get(name)
        found = bounds.get(name)
        side = "lower" if kind == "minimum" else "upper"
        bound = found.get(side) if isinstance(found, Mapping) else None
        lines.append(
            GateLine(
                name,
                kind,
                limit,
                float(value) if isinstance(value, int | float) else None,
                float(bound) if isinstance(bound, int | float) else None,
                label,
            )
        )
    return lines


def check_thresholds(metrics: Mapping[str, object], thresholds: Mapping[str, float]) -> list[str]:
    """One line per threshold its metric's confidence bound does not meet (a missing or
    undefined metric fails too)."""
    return [line.text() for line in gate_lines(metrics, thresholds) if not line.ok]


# -- against a previous run -------------------------------------------------------------------


@dataclass(frozen=True)
class PairedLine:
    """A gated metric, new minus previous, over the questions both runs asked: worse with
    confidence when the whole interval lies on the wrong side of 0."""

    name: str
    kind: Literal["minimum", "maximum"]
    questions: int  # paired questions that take part in the metric in either run
    new: float | None
    old: float | None
    lower: float | None  # bounds of new - old
    upper: float | None
    label: str = "95%"

    @property
    def ok(self) -> bool:
        if self.lower is None or self.upper is None:
            return True  # nothing to compare: the bounds alone gate
        return self.upper >= 0.0 if self.kind == "minimum" else self.lower <= 0.0

    def text(self) -> str:
        if self.new is None or self.old is None or self.lower is None or self.upper is None:
            return f"{self.name}: no paired questions with the previous report: skipped"
        return (
            f"{self.name}: {self.new:.3f} vs previous {self.old:.3f} on {self.questions} paired "
            f"questions, change {self.new - self.old:+.3f} ({self.label} bounds "
            f"{self.lower:+.3f} to {self.upper:+.3f}): {'ok' if self.ok else 'FAIL'}"
        )

    def record(self) -> dict[str, object]:
        return {
            "metric": self.name,
            "kind": self.kind,
            "questions": self.questions,
            "new": self.new,
            "previous": self.old,
            "difference": None if self.new is None or self.old is None else self.new - self.old,
            "lower": self.lower,
            "upper": self.upper,
            "ok": self.ok,
            "line": self.text(),
        }


def _ratio(parts: Sequence[Part]) -> float | None:
    den = sum(p[1] for p in parts)
    return sum(p[0] for p in parts) / den if den else None


def paired_line(
    name: str,
    kind: Literal["minimum", "maximum"],
    new: Mapping[str, Mapping[str, Part]],
    old: Mapping[str, Mapping[str, Part]],
    z: float = Z_ONE_SIDED_95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> PairedLine:
    """Paired bootstrap of new - old for one metric; `new` and `old` map question ids to
    their parts, and only the ids in both count."""
    ids = sorted(i for i in set(new) & set(old) if name in new[i] or name in old[i])
    none = (0.0, 0.0)
    new_parts = [new[i].get(name, none) for i in ids]
    old_parts = [old[i].get(name, none) for i in ids]
    new_value, old_value = _ratio(new_parts), _ratio(old_parts)
    found = None
    if ids and new_value is not None and old_value is not None:
        found = _tails(_bootstrap([old_parts, new_parts], resamples, seed), z)
    lower, upper = found if found else (None, None)
    return PairedLine(name, kind, len(ids), new_value, old_value, lower, upper, confidence_label(z))


def paired_lines(
    new: Mapping[str, Mapping[str, Part]],
    old: Mapping[str, Mapping[str, Part]],
    thresholds: Mapping[str, float],
    z: float = Z_ONE_SIDED_95,
) -> list[PairedLine]:
    """Every gated metric of a run against a previous run of the same questions."""
    return [paired_line(*_limit(key), new, old, z) for key in sorted(thresholds)]
