"""The calibration gates: pure functions of greedy returns and scripted references.

Each trained preset gets one verdict (:class:`Gate`), by what the env's scripted
references are (:mod:`rllib_dynamite.evaluation.scripted`):

- **A bound** (``Reference.bound``: no policy of its class does better, as on the
  gridworlds and :class:`~rllib_dynamite.suite.DriftingBandit`): ``oracle`` must reach
  95% of the scripted oracle, ``markov_ppo`` 95% of the best scripted memoryless policy.
  For a negative reference "95%" reads "within 5% of its magnitude":
  ``R ≥ R_ref − 0.05·|R_ref|`` (:func:`reaches`).
- **A yardstick** (a scripted policy that is merely simple: Reacher, ScratchItch,
  :class:`~rllib_dynamite.suite.SetPointTracker`): ``oracle`` must close 80% of the gap
  from the random policy to the scripted oracle (:func:`gap_closed`), which a trained
  Oracle may beat but should not fall far short of; ``markov_ppo`` must come within 5%
  of the scripted memoryless policy's magnitude, or above it (:func:`reaches` again).
- **None** (your own env without ``scripted_policies()``; HalfCheetahVel's oracle):
  *clear separation* (:func:`separation`): ``oracle`` clearly above ``markov_ppo``, and
  ``markov_ppo`` clearly above the random policy. *Clearly* is two conditions:

  1. the difference of the means exceeds the half-width of its 95% Welch interval
     (seeds of one preset against seeds of the other, or against the random policy's
     episodes), so it is no accident of which seeds ran; and
  2. it reaches a minimum effect: for ``oracle`` 10% of ``|markov_ppo − random|``, what
     learning without the latent gained over random on this env at this budget; for
     ``markov_ppo`` 10% of the random policy's spread of episode returns (its standard
     deviation), the env's own scale of noise. The interval alone would pass an Oracle
     a hair above Markov PPO given enough seeds; the minimum effect asks that the latent
     is worth a visible share of the return, or a study of belief methods on the env has
     no room between its two bounds to measure anything in.

  An interval over seeds needs seeds: with fewer than :data:`MIN_SEEDS` per preset the
  verdict is ``INCONCLUSIVE``, never ``PASS`` (two seeds give a t quantile of 12.7 and a
  spread that one lucky seed dominates).

The numbers are greedy returns of each seed's final checkpoint on the episodes the
scripted references play (the same seeded latent sequences).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from rllib_dynamite.summary import mean_interval, welch_interval

if TYPE_CHECKING:
    from rllib_dynamite.evaluation.scripted import Reference

PASS, FAIL, INCONCLUSIVE, NOT_RUN = "PASS", "FAIL", "INCONCLUSIVE", "NOT RUN"
SHARE_OF_REFERENCE = 0.95  # of a scripted bound or memoryless yardstick
GAP_CLOSED = 0.80  # of random → scripted oracle, where that oracle is not a bound
MIN_EFFECT = 0.10  # of the scale named in the module docstring
MIN_SEEDS = 3  # per preset, for clear separation


@dataclass(frozen=True)
class Gate:
    """One preset's verdict.

    ``values``: its greedy return per training seed; ``rule``: what it is held to, in
    words; ``detail``: the comparison's numbers.
    """

    preset: str
    verdict: str
    rule: str
    values: tuple[float, ...] = ()
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.verdict == PASS

    @property
    def ran(self) -> bool:
        return self.verdict != NOT_RUN

    def line(self) -> str:
        """``PASS oracle ≥ 95% of ...: 47.44 ± 0.27 (95% CI, n=3); ...``."""
        numbers = f": {seed_summary(self.values)}" if self.values else ""
        detail = f"; {self.detail}" if self.detail else ""
        return f"{self.verdict:<4} {self.preset} {self.rule}{numbers}{detail}"


@dataclass(frozen=True)
class Separation:
    """``upper`` minus ``lower``: the difference of means, its 95% Welch half-width
    (NaN with fewer than two values a side) and the minimum effect it must reach."""

    difference: float
    half_width: float
    min_effect: float

    @property
    def clear(self) -> bool:
        return self.difference > self.half_width and self.difference >= self.min_effect


def reaches(value: float, reference: float, share: float = SHARE_OF_REFERENCE) -> bool:
    """``value`` reaches ``share`` of ``reference`` (within ``1 − share`` of its
    magnitude, for a negative one): ``value ≥ reference − (1 − share)·|reference|``."""
    return value >= reference - (1.0 - share) * abs(reference)


def gap_closed(value: float, random: float, reference: float) -> float:
    """The share of the gap from ``random`` up to ``reference`` that ``value`` closes
    (1: level with the reference, 0: no better than random). ``reference > random``."""
    return (value - random) / (reference - random)


def separation(upper: Sequence[float], lower: Sequence[float], min_effect: float) -> Separation:
    """``mean(upper) − mean(lower)`` with Welch's 95% half-width (module docstring)."""
    interval = welch_interval(upper, lower)
    return Separation(interval.mean, interval.high - interval.mean, min_effect)


def seed_summary(values: Sequence[float]) -> str:
    """``mean ± half-width (95% CI, n=N)``; ``mean (n=1)`` for one value."""
    interval = mean_interval(values)
    if math.isnan(interval.low):
        return f"{interval.mean:.2f} (n={len(values)})"
    return f"{interval.mean:.2f} ± {interval.high - interval.mean:.2f} (95% CI, n={len(values)})"


def judge(values: Mapping[str, Sequence[float]], references: Mapping[str, Reference]) -> list[Gate]:
    """The ``markov_ppo`` and ``oracle`` gates (in that order) of an env whose presets'
    greedy returns per seed are ``values`` and whose scripted references are
    ``references`` (``random`` at least). A preset missing from ``values`` gets
    ``NOT RUN``."""
    return [markov_ppo_gate(values, references), oracle_gate(values, references)]


def markov_ppo_gate(
    values: Mapping[str, Sequence[float]], references: Mapping[str, Reference]
) -> Gate:
    """``markov_ppo`` against the scripted memoryless policy, or clearly above random."""
    markov = tuple(values.get("markov_ppo", ()))
    random = references["random"]
    memoryless = references.get("memoryless")
    if memoryless is not None:
        kind = "bound" if memoryless.bound else "yardstick"
        rule = f"≥ 95% of the scripted memoryless policy (a {kind})"
    else:
        rule = "clearly above the random policy"
    if not markov:
        return Gate("markov_ppo", NOT_RUN, rule)
    if memoryless is not None:
        mean = float(np.mean(markov))
        threshold = memoryless.mean - (1.0 - SHARE_OF_REFERENCE) * abs(memoryless.mean)
        verdict = PASS if reaches(mean, memoryless.mean) else FAIL
        detail = (
            f"scripted memoryless {memoryless.mean:.2f}, gate ≥ {threshold:.2f}; "
            f"random {random.mean:.2f}"
        )
        return Gate("markov_ppo", verdict, rule, markov, detail)
    spread = float(np.std(random.returns, ddof=1)) if random.returns.size > 1 else 0.0
    gap = separation(markov, random.returns, MIN_EFFECT * spread)
    return Gate(
        "markov_ppo",
        _separation_verdict(gap, len(markov)),
        rule,
        markov,
        f"random {random.mean:.2f}; "
        + _describe(gap, len(markov), "the std of random episode returns"),
    )


def oracle_gate(values: Mapping[str, Sequence[float]], references: Mapping[str, Reference]) -> Gate:
    """``oracle`` against a scripted oracle (a bound, or a yardstick it must close 80%
    of the gap to), or clearly above ``markov_ppo`` where the env has none."""
    oracle = tuple(values.get("oracle", ()))
    random = references["random"]
    scripted = _scripted_oracle(references)
    if scripted is not None and scripted.bound:
        rule = "≥ 95% of the scripted oracle (a bound)"
    elif scripted is not None:
        rule = f"closes ≥ {GAP_CLOSED:.0%} of the gap from random to the scripted oracle"
    else:
        rule = "clearly above markov_ppo"
    if not oracle:
        return Gate("oracle", NOT_RUN, rule)
    mean = float(np.mean(oracle))
    if scripted is not None and scripted.bound:
        threshold = scripted.mean - (1.0 - SHARE_OF_REFERENCE) * abs(scripted.mean)
        verdict = PASS if reaches(mean, scripted.mean) else FAIL
        detail = f"scripted oracle {scripted.mean:.2f}, gate ≥ {threshold:.2f}"
        return Gate("oracle", verdict, rule, oracle, detail)
    if scripted is not None:
        closed = gap_closed(mean, random.mean, scripted.mean)
        verdict = PASS if closed >= GAP_CLOSED else FAIL
        detail = (
            f"closes {closed:.0%} of random {random.mean:.2f} → scripted oracle {scripted.mean:.2f}"
        )
        return Gate("oracle", verdict, rule, oracle, detail)
    markov = tuple(values.get("markov_ppo", ()))
    if not markov:
        return Gate("oracle", INCONCLUSIVE, rule, oracle, "markov_ppo was not run")
    learnt = abs(float(np.mean(markov)) - random.mean)
    gap = separation(oracle, markov, MIN_EFFECT * learnt)
    return Gate(
        "oracle",
        _separation_verdict(gap, min(len(oracle), len(markov))),
        rule,
        oracle,
        f"markov_ppo {seed_summary(markov)}; "
        + _describe(gap, min(len(oracle), len(markov)), "|markov_ppo − random|"),
    )


def needs_separation(preset: str, references: Mapping[str, Reference]) -> bool:
    """Whether ``preset``'s gate is clear separation, which needs :data:`MIN_SEEDS`
    seeds: ``markov_ppo`` without a scripted memoryless policy, ``oracle`` without a
    scripted oracle to reach."""
    if preset == "markov_ppo":
        return "memoryless" not in references
    return _scripted_oracle(references) is None


def _scripted_oracle(references: Mapping[str, Reference]) -> Reference | None:
    """The scripted oracle a trained one is held to: a bound, or a yardstick above the
    random policy (one no better leaves no gap to close)."""
    scripted = references.get("oracle")
    if scripted is None or not (scripted.bound or scripted.mean > references["random"].mean):
        return None
    return scripted


def _separation_verdict(gap: Separation, seeds: int) -> str:
    if seeds < MIN_SEEDS or math.isnan(gap.half_width):
        return INCONCLUSIVE
    return PASS if gap.clear else FAIL


def _describe(gap: Separation, seeds: int, scale: str) -> str:
    half = "n/a" if math.isnan(gap.half_width) else f"{gap.half_width:.2f}"
    few = f"; fewer than {MIN_SEEDS} seeds" if seeds < MIN_SEEDS else ""
    return (
        f"difference {gap.difference:+.2f} against Welch 95% half-width {half} and "
        f"minimum effect {gap.min_effect:.2f} ({MIN_EFFECT:.0%} of {scale}){few}"
    )
