"""When a run's sparse structure changes: pure functions of the step, one formula each.

    parse_schedule('gradual:8000:100') -> Schedule   the prune_schedule setting
    cubic_count(t, t0, end, n_final, n_initial)     Zhu & Gupta (2017): weights kept at step t
    cut_steps(t0, end, every)                       the steps of a gradual run's cuts
    cosine_fraction(t, t0, t_end, f0)               RigL (Evci et al. 2020): decayed drop fraction
    rewire_steps(t0, every, until, total)           the steps at which a run rewires
    structure_steps(...)                            both, in order: what the trainer stops at

Steps count as `trainer.state.step` does: burn-in included, so t0, the end of the burn-in, is
`burn_in`, and a run's last step is burn_in + steps.

Gradual pruning (prune_schedule "gradual:END:EVERY"): the density of each pruned layer falls
from s_i = 1 at t0 to the rule's target s_f at END along

    s_t = s_f + (s_i - s_f) * (1 - (t - t0) / (END - t0))**3,

one cut every EVERY steps from t0 (t0 + EVERY, t0 + 2 EVERY, ..., and END itself); the first
cut, at t0, keeps everything (s = 1). Written in counts: a layer of n_initial weights keeps
round(n_final + (n_initial - n_final) * (1 - (t - t0) / (END - t0))**3).
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

from ..errors import ConfigError, shown

MAX_STEP = 2 * 10**9  # burn_in + steps at most (config.MAX_COUNT each)

SCHEDULES = "once | gradual:END:EVERY"


@dataclass(frozen=True)
class Schedule:
    """How the cut is made: at once at the end of the burn-in, or gradually up to step `end`."""

    kind: str = "once"  # once | gradual
    end: int = 0  # gradual: the step of the last cut (burn-in included)
    every: int = 0  # gradual: steps between two cuts

    def __str__(self):
        return self.kind if self.kind == "once" else f"gradual:{self.end}:{self.every}"


def parse_schedule(text) -> Schedule:
    """'once' or 'gradual:END:EVERY' (whole numbers, EVERY >= 1) -> Schedule; ConfigError else.
    Whether END fits the run (after the burn-in, at most the last step) is RunConfig's check."""
    if isinstance(text, Schedule):
        return text
    bad = f"prune_schedule={shown(text)}: expected {SCHEDULES} (e.g. 'gradual:8000:100')"
    if not isinstance(text, str):
        raise ConfigError(bad)
    t = text.strip().lower()
    if t == "once":
        return Schedule()
    parts = t.split(":")
    if len(parts) != 3 or parts[0] != "gradual":
        raise ConfigError(bad)
    try:
        if max(len(parts[1]), len(parts[2])) > 12:  # no int() of thousands of digits
            raise ValueError
        end, every = int(parts[1]), int(parts[2])
    except ValueError:
        raise ConfigError(bad + "; END and EVERY are whole numbers of steps") from None
    if not (1 <= end <= MAX_STEP and 1 <= every <= MAX_STEP):
        raise ConfigError(f"prune_schedule={shown(text)}: END and EVERY must be in 1..{MAX_STEP:,}")
    return Schedule("gradual", end, every)


def cubic_density(t: float, t0: int, end: int, s_final: float, s_initial: float = 1.0) -> float:
    """Zhu & Gupta's density at step t: s_f + (s_i - s_f) (1 - (t - t0) / (end - t0))^3,
    held at s_i before t0 and at s_f after end."""
    x = min(max((t - t0) / (end - t0), 0.0), 1.0) if end > t0 else 1.0
    return s_final + (s_initial - s_final) * (1.0 - x) ** 3


def cubic_count(t: int, t0: int, end: int, n_final: int, n_initial: int) -> int:
    """Weights a layer keeps at step t: `cubic_density` in counts, rounded to the nearest."""
    return int(round(cubic_density(t, t0, end, n_final, n_initial)))


def cut_steps(t0: int, end: int, every: int) -> Iterator[int]:
    """The gradual cuts after the first (at t0): t0 + every, t0 + 2 every, ... < end, and end.
    Lazy, like rewire_steps and structure_steps: a run of 10^9 steps holds no list of them."""
    return itertools.chain(range(t0 + every, end, every), (end,)) if end > t0 else iter(())


def cosine_fraction(t: int, t0: int, t_end: int, f0: float) -> float:
    """RigL's drop fraction at step t: f0 / 2 (1 + cos(pi (t - t0) / (t_end - t0)))."""
    if t_end <= t0:
        return f0
    x = min(max((t - t0) / (t_end - t0), 0.0), 1.0)
    return f0 / 2.0 * (1.0 + math.cos(math.pi * x))


def rewire_steps(t0: int, every: int, until: int, total: int) -> range:
    """t0 + every, t0 + 2 every, ... before `until` and before the run's last step `total`."""
    return range(t0 + every, min(until, total), every)


def structure_steps(t0: int, total: int, schedule: Schedule, rewire_every: int | None = None,
                    rewire_until: int | None = None) -> Iterator[tuple[int, str]]:
    """The steps after the cut at t0 at which a run's pattern changes, in order, each with what
    happens there ("cut" of a gradual schedule, "rewire"; a cut before a rewiring at one step)."""
    streams = []
    if schedule.kind == "gradual":
        streams.append((t, 0, "cut") for t in cut_steps(t0, schedule.end, schedule.every))
    if rewire_every:
        until = total if rewire_until is None else rewire_until
        streams.append((t, 1, "rewire") for t in rewire_steps(t0, rewire_every, until, total))
    return ((t, what) for t, _, what in heapq.merge(*streams))
