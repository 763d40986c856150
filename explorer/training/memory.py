"""Memory: what a run will need, what the machine has, and a one-line refusal when it does not fit.

    estimate(config, n_features, n_classes) -> Estimate   the process's peak, phase by phase, part by part
    available_bytes()                                     MemAvailable (and the cgroup's limit)
    check(config, n_features, n_classes)                  ConfigError naming the setting and the estimate
    peak_rss_mb()                                         this process's own peak resident memory

The trainer calls `check` in `reset()`, before it allocates anything as large as a layer, so a
run that cannot fit ends in one line (exit status 2 in the CLI), never in numpy's MemoryError;
`explorer train --dry-run` and `explorer sweep --dry-run` check every run the same way.

The estimate is a model, not a measurement: every buffer a feature allocates, counted per weight,
per unit and per sample with the bytes below, measured here (tracemalloc on the real code paths,
VmHWM of a fresh process per run: tests/test_memory.py holds peak <= estimate <= 2x peak for every
feature at two widths). The process's peak is the largest of its phases:
- loading: the process (the interpreter, numpy, scipy, numba and the kernels it loads:
  RUNTIME_BYTES) and the data set as it is decoded (its float32 inputs and the stored uint8 copy);
- dense (a burn-in, dense training, dense initial weights): every weight in float64, its momentum
  buffer, the gradients a hook asks for, the batch buffers, evaluation, the burn-in's sample
  indices (burn_in x batch_size int64, drawn up front);
- the cut on dense weights: the dense weights, the rule's temporaries on the largest cut layer
  (|w|, an argsort or the median's copies, the mask) and the SparseNet built from what it keeps --
  all of a layer for a gradual schedule, whose first cut keeps every weight;
- sparse (after the cut, or from step 0 when the pruned layers are drawn sparse, start.py): the
  surviving weights in the SparseNet's flat arrays and their rebuilding at each gradual cut or
  rewiring (momentum and the update's extras add a buffer per weight), the fused kernels' batch
  x units buffers (the units compaction keeps: as many as if the weights fell at random), and
  evaluation; a run without a cut has no sparse phase;
- a RigL rewiring: the dense |gradient| of every pruned layer (held together), the grow step's
  copies of the largest, and the activations of rewire_batch samples through the whole net.
Every phase but loading also holds the process and the loaded data set. The process's own
other memory (a notebook's widgets, earlier results) is not counted.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import NamedTuple

from ..errors import ConfigError

MiB = 2**20
RUNTIME_BYTES = 224 * MiB  # the process: VmRSS of a run's process here without its data (175-200 MiB), and
# ~25 MiB for the heap the allocator keeps after a phase (VmHWM minus the arrays tracemalloc sees)
SKLEARN_BYTES = 64 * MiB  # scikit-learn, imported to load digits (its bundled copy)
# per weight of the largest cut layer at a dense cut: |w| 8, the mask 1, and the rule's own: an argsort
# or a random permutation (8); halving: copies of the survivors and the median's (16)
DENSE_CUT_BYTES = {"halving": 26}
DENSE_CUT_DEFAULT = 17
SPARSE_BYTES = 180  # per surviving weight while a SparseNet is built (tracemalloc: 168-176); it holds ~48
SPARSE_HELD_BYTES = 48  # per surviving weight of a built SparseNet (values, indices, rows, offsets)
SPARSE_EXTRA_BYTES = 24  # per surviving weight with momentum / the update's extras / stored gradients
RIGL_SCORE_BYTES = 8  # per weight of every pruned layer: its dense |gradient|, held through a rewiring
RIGL_GROW_BYTES = 24  # per weight of the largest pruned layer: the grow step's copy, its negation, argpartition
RIGL_ACTIVATION_COPIES = 4  # float64 copies of rewire_batch x units: inputs and activations, deltas, f'
EVAL_COPIES = 2  # evaluation's blocks of activations (EVAL_MAX floats each): a layer's input and output


class Part(NamedTuple):
    """Bytes, what they are for, the setting behind them, how to lower them; `kind`: "run" (the
    run's own arrays), or "process" / "data" (held before the run starts)."""

    bytes: int
    what: str
    setting: str
    fix: str
    kind: str = "run"


@dataclass
class Estimate:
    """A run's estimated peak: `phases` maps a phase of the run to its parts (Part); the peak is
    the largest phase, `parts` its parts, `total` its bytes, `run` the most the run itself adds."""

    phases: dict = field(default_factory=dict)

    @property
    def peak_phase(self) -> str:
        return max(self.phases, key=lambda k: sum(p.bytes for p in self.phases[k]), default="")

    @property
    def parts(self) -> list:
        return self.phases.get(self.peak_phase, [])

    @property
    def total(self) -> int:
        return int(sum(p.bytes for p in self.parts))

    @property
    def run(self) -> int:
        """The bytes a run adds to a process that holds its data already (what `check` compares)."""
        return int(max((sum(p.bytes for p in ps if p.kind == "run") for ps in self.phases.values()), default=0))

    def largest(self) -> Part:
        """The largest of the run's own parts in the phase where the run adds the most."""
        runs = [[p for p in ps if p.kind == "run"] for ps in self.phases.values()]
        worst = max(runs, key=lambda ps: sum(p.bytes for p in ps), default=[])
        return max(worst, key=lambda p: p.bytes, default=Part(0, "", "", ""))

    def __repr__(self):
        rows = ", ".join(f"{p.what}: {human(p.bytes)}" for p in sorted(self.parts, reverse=True)[:4])
        return f"Estimate(~{human(self.total)} at {self.peak_phase}: {rows})"


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


def data_parts(cfg, n_features: int, n_samples: tuple | None = None) -> tuple[list, int]:
    """(the loaded data set's parts, the extra bytes while it loads): float32 inputs and int64
    labels of the samples kept, and while decoding the stored uint8 copy of every sample (scikit-
    learn itself for digits). `n_samples`: (train, test) stored; default: the data set's spec
    (MNIST's for 'auto')."""
    from ..data import REGISTRY

    spec = REGISTRY.get("mnist" if cfg.dataset == "auto" else cfg.dataset)
    if n_samples is None:
        n_samples = spec.n_samples if spec is not None and spec.n_samples else (60_000, 10_000)
    n_tr, n_te = n_samples
    kept = min(n_tr, cfg.n_train or n_tr) + min(n_te, cfg.n_test or n_te)
    parts = [Part(kept * (4 * n_features + 16), f"the data set ({kept:,} samples x {n_features:,} float32 inputs)",
                  f"dataset={cfg.dataset}", "use fewer samples (n_train, n_test)", "data")]
    if spec is not None and spec.format == "sklearn-digits":
        parts.append(Part(SKLEARN_BYTES, "scikit-learn, which loads digits", "dataset=digits", "", "data"))
    return parts, (n_tr + n_te) * n_features


def estimate(cfg, n_features: int, n_classes: int, gradients: bool = False, sparse_start: bool | None = None,
             n_samples: tuple | None = None) -> Estimate:
    """The peak memory of a process that runs `cfg` (a RunConfig) on data of n_features inputs and
    n_classes classes (`n_samples`: the data set's (train, test) samples; default: its spec's),
    phase by phase (see the module doc); `gradients`: a hook asks for them; `sparse_start`: its
    pruned layers are drawn sparse (default: start.starts_sparse decides)."""
    from ..engine.kernels import EVAL_MAX
    from ..engine.masked import prefers_masked
    from ..sparsity.prune import parse_rule
    from ..sparsity.rewire import parse_rewire
    from ..sparsity.schedule import parse_schedule
    from ..sparsity.start import starts_sparse

    sizes = [n_features + 1, *cfg.hidden, n_classes]
    shapes = list(zip(sizes[:-1], sizes[1:]))
    B, rule, rewiring = cfg.batch_size, parse_rule(cfg.prune), parse_rewire(cfg.rewire)
    pruned = set(cfg.pruned_layer_indices())
    gradual = parse_schedule(cfg.prune_schedule).kind == "gradual"
    direct = starts_sparse(cfg, shapes) if sparse_start is None else sparse_start
    hidden = "hidden=" + "x".join(str(h) for h in cfg.hidden)
    data, loading = data_parts(cfg, n_features, n_samples)
    held = [Part(RUNTIME_BYTES, "the process (Python, numpy, scipy, numba and its kernels)", "", "", "process"),
            *data, Part(8 * cfg.burn_in * B, f"the burn-in's sample indices ({cfg.burn_in:,} steps x {B:,})",
                        f"burn_in={cfg.burn_in:,}", "lower burn_in or batch_size")]
    est = Estimate({"loading the data": [*held[:-1], Part(loading, "the stored data set, decoded", data[0].setting,
                                                          "", "data")]})

    # the sparse phase: surviving weights and the units that keep both an input and an output
    # (as many as if the weights fell at random: h (1 - e^(-in / h)) (1 - e^(-out / h)), plus 20%);
    # a gradual schedule's first cut keeps every weight
    alive = [s[0] * s[1] if l not in pruned or gradual else expected_alive(rule, s) for l, s in enumerate(shapes)]
    hit = lambda n, h: -math.expm1(-n / h)  # noqa: E731 -- the share of h units n random weights reach
    units = [sizes[0], *(min(h, int(1.2 * h * hit(alive[v], h) * hit(alive[v + 1], h)) + 1)
                         for v, h in enumerate(cfg.hidden)), sizes[-1]]
    live = sum(units)
    extras = cfg.momentum > 0 or cfg.weight_decay > 0 or cfg.l1 > 0 or gradients
    rebuilt = gradual or rewiring.name != "none"  # the SparseNet is built again during the run
    per_weight = (SPARSE_BYTES if rebuilt or direct else SPARSE_HELD_BYTES) + SPARSE_EXTRA_BYTES * extras
    sparse = [*held, Part(8 * (2 + (cfg.dropout > 0)) * B * live, f"activations of {B:,} samples x {live:,} units",
                          f"batch_size={B:,}", "lower batch_size or the width"),
              Part(8 * EVAL_COPIES * min(64 * live, EVAL_MAX), "evaluation's activations", hidden, "lower the width"),
              Part(32 * sum(sizes), "per-unit counts of the cut's compaction", hidden, "lower the width")]
    for l, n in enumerate(alive):
        what, setting, fix = ((f"the {n:,} surviving weights of layer {l}" + (" (a gradual schedule's first cut "
                               "keeps them all)" if gradual else ""), f"prune={cfg.prune}",
                               "keep fewer weights (a smaller budget or eps)") if l in pruned else
                              (f"the {n:,} weights of layer {l}, not pruned", hidden,
                               "prune that layer too (e.g. prune_layers='all')"))
        sparse.append(Part(per_weight * n, what, setting, fix))
    if pruned and prefers_masked(units, sum(alive), B):  # trained as dense layers with zeros (masked.py)
        dense_live = sum(a * b for a, b in zip(units[:-1], units[1:]))
        sparse.append(Part((17 + 8 * (cfg.momentum > 0)) * dense_live, "the masked dense layers of a net above the "
                           "break-even density", f"prune={cfg.prune}", "keep fewer weights"))
    if pruned:
        est.phases["sparse training"] = sparse
    if rewiring.kind.gradient and pruned:  # RigL: the dense |gradient| of every pruned layer at a rewiring
        big = max(shapes[l][0] * shapes[l][1] for l in pruned)
        every = sum(shapes[l][0] * shapes[l][1] for l in pruned)
        rb = f"rewire_batch={cfg.rewire_batch:,}"
        est.phases["a RigL rewiring"] = [
            *held, *(p for p in sparse[len(held):] if "weights of layer" in p.what),
            Part(RIGL_SCORE_BYTES * every + RIGL_GROW_BYTES * big, f"RigL's dense |gradient| of the {every:,} "
                 f"positions of the pruned layers", f"rewire={cfg.rewire}", "use rewire='set:...' (no dense gradient) "
                 "or a narrower net"),
            Part(8 * RIGL_ACTIVATION_COPIES * cfg.rewire_batch * sum(sizes), f"RigL's activations of "
                 f"{cfg.rewire_batch:,} samples x {sum(sizes):,} units", rb, "lower rewire_batch")]
    if direct:
        return est
    # the dense phase: every weight (with momentum and asked-for gradients), and the cut on it
    copies = 1 + (cfg.momentum > 0) + gradients
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
    weights = [Part(8 * copies * a * b, f"{what} of layer {l} ({a:,} x {b:,} float64 weights)", hidden, fix)
               for l, (a, b) in enumerate(shapes)]
    est.phases["dense training"] = [
        *held, *weights, Part(8 * (2 + (cfg.dropout > 0)) * B * sum(sizes), f"batch buffers ({B:,} samples x "
                              f"{sum(sizes):,} units)", f"batch_size={B:,}", "lower batch_size"),
        Part(8 * EVAL_COPIES * min(4096 * sum(sizes), EVAL_MAX), "evaluation's activations", hidden, "lower the width")]
    if pruned:
        ranked = (sum(shapes[l][0] * shapes[l][1] for l in pruned) if cfg.prune_scope == "global"
                  else max(shapes[l][0] * shapes[l][1] for l in pruned))
        est.phases["the cut's ranking"] = [*held, *weights, Part(
            DENSE_CUT_BYTES.get(rule.name, DENSE_CUT_DEFAULT) * ranked + 2 * every,
            f"the cut's temporaries on {what} ({ranked:,} magnitudes ranked)", hidden, fix)]
        est.phases["building the sparse net"] = [
            *held, *weights, Part(every, "the cut's masks", hidden, fix),
            *(Part(SPARSE_BYTES * n, f"building the sparse net of layer {l}'s {n:,} kept weights"
                   + (" (a gradual schedule's first cut keeps them all)" if gradual and l in pruned else ""),
                   f"prune={cfg.prune}" if l in pruned else hidden, "keep fewer weights") for l, n in enumerate(alive))]
    return est


def check(cfg, n_features: int, n_classes: int, gradients: bool = False, sparse_start: bool | None = None,
          available: int | None = None, fresh: bool = False, n_samples: tuple | None = None) -> Estimate:
    """Refuse a run that does not fit: ConfigError 'SETTING needs ~X for WHAT; this machine has Y
    available; FIX' when what the run still needs exceeds the available memory: the run's own
    arrays (`Estimate.run`) in a process that holds its data already (the trainer's reset), the
    whole estimate with `fresh` (a dry run; a run in a new process). Returns the estimate."""
    est = estimate(cfg, n_features, n_classes, gradients, sparse_start, n_samples)
    avail = available_bytes() if available is None else available
    need = est.total if fresh else est.run
    if avail is not None and need > avail:
        size, what, setting, fix, _ = est.largest()
        raise ConfigError(f"{setting or 'the run'} needs ~{human(need)} ({human(size)} of it for {what}); this "
                          f"machine has {human(avail)} available; {fix}")
    return est
