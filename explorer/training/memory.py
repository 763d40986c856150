"""Memory: what a run will need, what the machine has, and a one-line refusal when it does not fit.

    estimate(config, n_features, n_classes) -> Estimate   the run's peak, part by part
    available_bytes()                                     MemAvailable (and the cgroup's limit)
    check(config, n_features, n_classes)                  ConfigError naming the setting and the estimate
    peak_rss_mb()                                         this process's own peak resident memory

The trainer calls `check` in `reset()`, before it allocates anything as large as a layer, so a
run that cannot fit ends in one line (exit status 2 in the CLI), never in numpy's MemoryError.
The estimate is a model, not a measurement: float64 arrays and int64 indices counted per weight
and per unit with the phase's temporaries (bytes per weight below, measured with tracemalloc on
the real code paths); it errs on the high side by design.

Phases, whose peaks are compared (the larger is the run's):
- dense (a burn-in, dense training, or a cut made on dense weights): every weight in float64,
  its momentum buffer, the gradients a hook asks for, the batch buffers, and at the cut the
  rule's temporaries (|w|, an argsort) on the largest cut layer;
- sparse (after the cut, or from step 0 when the pruned layers are drawn sparse, start.py): the
  surviving weights in the SparseNet's flat arrays, with the buffers of the fused kernels
  (batch x the units compaction keeps -- as many as if the weights fell at random) and of
  evaluation; a run without a cut has no sparse phase.
The burn-in's sample indices (burn_in x batch_size int64, drawn up front) are held throughout.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from ..errors import ConfigError

DENSE_CUT_BYTES = 17  # per weight of the largest cut layer at a dense cut: |w| 8, argsort 8, its mask 1
SPARSE_BYTES = 180  # per surviving weight: SparseNet's arrays (~48) and building them (tracemalloc: 168-176)
SPARSE_EXTRA_BYTES = 24  # per surviving weight with momentum / the update's extras / stored gradients


@dataclass
class Estimate:
    """A run's estimated peak: `parts` are (bytes, what, the setting behind it, how to fix it)."""

    parts: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(sum(p[0] for p in self.parts))

    def largest(self):
        return max(self.parts, key=lambda p: p[0]) if self.parts else (0, "", "", "")

    def __repr__(self):
        rows = ", ".join(f"{what}: {human(b)}" for b, what, _, _ in sorted(self.parts, reverse=True)[:4])
        return f"Estimate(~{human(self.total)}: {rows})"


def human(n: float) -> str:
    """Bytes as a short string: '48 GiB', '610 MiB', '12 KiB'."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= size:
            v = n / size
            return f"{v:,.0f} {unit}" if v >= 10 else f"{v:.1f} {unit}"
    return f"{int(n)} B"


def available_bytes() -> int | None:
    """Memory a new allocation can have now: MemAvailable from /proc/meminfo, lowered to what the
    cgroup (v2 or v1) still allows; None where neither can be read (then nothing is refused)."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except OSError:
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file) as f:
                text = f.read().strip()
            if text == "max" or int(text) >= 2**60:
                continue
            with open(usage_file) as f:
                left = int(text) - int(f.read().strip())
            avail = left if avail is None else min(avail, left)
            break
        except (OSError, ValueError):
            continue
    if avail is None and hasattr(os, "sysconf"):
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            avail = None
    return avail


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB: VmHWM from /proc/self/status.

    Written by hand because neither the standard library nor psutil reads it right: Linux's
    getrusage ru_maxrss carries the parent's high-water mark over fork and exec, so a notebook
    kernel or a fresh worker started by a 1.5 GB pytest (or Jupyter) process reports 1.5 GB before
    it allocates anything; VmHWM belongs to the process's own address space, made new at exec.
    Where /proc is missing (macOS), ru_maxrss is the best there is (bytes there, KiB on Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def expected_alive(rule, shape) -> int:
    """An upper bound on the weights a rule keeps of a layer of `shape` at the cut: the count of
    a sparse start (start.kept_count), or every weight where it is not known before the weights
    are (threshold, none, a rule without a count)."""
    from ..sparsity.start import DRAWN, kept_count

    if rule.name not in DRAWN or rule.name == "threshold":
        return shape[0] * shape[1]
    return kept_count(rule, shape, "post", 0.0, None)


def estimate(cfg, n_features: int, n_classes: int, gradients: bool = False, sparse_start: bool | None = None
             ) -> Estimate:
    """The peak memory of the run `cfg` (a RunConfig) on data of n_features inputs and n_classes
    classes; `gradients`: a hook asks for them; `sparse_start`: its pruned layers are drawn sparse
    (default: start.starts_sparse decides)."""
    from ..engine.kernels import EVAL_MAX
    from ..sparsity.prune import parse_rule
    from ..sparsity.start import starts_sparse

    sizes = [n_features + 1, *cfg.hidden, n_classes]
    shapes = list(zip(sizes[:-1], sizes[1:]))
    B, rule = cfg.batch_size, parse_rule(cfg.prune)
    pruned = set(cfg.pruned_layer_indices())
    direct = starts_sparse(cfg, shapes) if sparse_start is None else sparse_start
    extras = cfg.momentum > 0 or cfg.weight_decay > 0 or cfg.l1 > 0
    hidden = "hidden=" + "x".join(str(h) for h in cfg.hidden)
    batches = (8 * cfg.burn_in * B, f"the burn-in's sample indices ({cfg.burn_in:,} steps x {B:,})",
               f"burn_in={cfg.burn_in:,}", "lower burn_in or batch_size")
    # the sparse phase: surviving weights and the units that keep both an input and an output
    # (as many as if the weights fell at random: h (1 - e^(-in / h)) (1 - e^(-out / h)), plus 20%)
    alive = [expected_alive(rule, s) if l in pruned else s[0] * s[1] for l, s in enumerate(shapes)]
    hit = lambda n, h: -math.expm1(-n / h)  # noqa: E731 -- the share of h units n random weights reach
    live = sum([sizes[0], sizes[-1]] + [min(h, int(1.2 * h * hit(alive[v], h) * hit(alive[v + 1], h)) + 1)
                                        for v, h in enumerate(cfg.hidden)])
    per_weight = SPARSE_BYTES + (SPARSE_EXTRA_BYTES if extras or gradients else 0)
    sparse = Estimate([(8 * (2 + (cfg.dropout > 0)) * B * live, f"activations of {B:,} samples x {live:,} units",
                        f"batch_size={B:,}", "lower batch_size or the width"),
                       (8 * min(64 * live, EVAL_MAX), "evaluation's activations", hidden, "lower the width"),
                       (32 * sum(sizes), "per-unit counts of the cut's compaction", hidden, "lower the width"),
                       batches])
    for l, n in enumerate(alive):
        what, setting, fix = ((f"the {n:,} surviving weights of layer {l}", f"prune={cfg.prune}",
                               "keep fewer weights (a smaller budget or eps)") if l in pruned else
                              (f"the {n:,} weights of layer {l}, not pruned", hidden,
                               "prune that layer too (e.g. prune_layers='all')"))
        sparse.parts.append((per_weight * n, what, setting, fix))
    if direct:
        return sparse
    # the dense phase: every weight (with momentum, asked-for gradients, the extras' temporaries)
    copies = 1 + (cfg.momentum > 0) + gradients + 3 * extras
    big = max((shapes[l][0] * shapes[l][1] for l in pruned), default=0)
    every = sum(a * b for a, b in shapes)
    if cfg.burn_in > 0 or not pruned:
        what = "the dense burn-in" if cfg.burn_in > 0 else "dense training"
        fix = ("use burn_in=0 (--burn-in 0) with a pruning rule on that layer to train it sparse from the start"
               if rule.name != "none" or cfg.burn_in > 0 else "prune it (e.g. prune='erk:1', prune_layers='all') "
               "and train it sparse from the start with burn_in=0")
    else:
        what = "the dense initial weights cut at step 0"
        fix = ("rank per layer (prune_scope='layer') and cut once (prune_schedule='once') to draw it sparse"
               if cfg.prune_scope != "layer" or cfg.prune_schedule != "once"
               else "prune every wide layer (prune_layers='all') to draw it sparse from the start")
    dense = Estimate([batches, (8 * 2 * B * sum(sizes), f"batch buffers ({B:,} samples x {sum(sizes):,} units)",
                                f"batch_size={B:,}", "lower batch_size")])
    for l, (a, b) in enumerate(shapes):  # the cut's temporaries counted with the largest cut layer
        cut = DENSE_CUT_BYTES * a * b + 2 * every if pruned and a * b == big else 0
        dense.parts.append((8 * copies * a * b + cut, f"{what} of layer {l} ({a:,} x {b:,} float64 weights)",
                            hidden, fix))
        big = big if not cut else -1
    dense.parts.append((8 * min(4096 * sum(sizes), EVAL_MAX), "evaluation's activations", hidden, "lower the width"))
    return dense if not pruned or dense.total >= sparse.total else sparse  # no cut: no sparse phase


def check(cfg, n_features: int, n_classes: int, gradients: bool = False, sparse_start: bool | None = None,
          available: int | None = None) -> Estimate:
    """Refuse a run that does not fit: ConfigError 'SETTING needs ~X for WHAT; this machine has Y
    available; FIX' when the estimate exceeds the available memory. Returns the estimate."""
    est = estimate(cfg, n_features, n_classes, gradients, sparse_start)
    avail = available_bytes() if available is None else available
    if avail is not None and est.total > avail:
        size, what, setting, fix = est.largest()
        raise ConfigError(f"{setting} needs ~{human(est.total)} ({human(size)} of it for {what}); this machine has "
                          f"{human(avail)} available; {fix}")
    return est
