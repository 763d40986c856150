"""`explorer compare`: six ways to spend one input-layer budget, side by side.

At a budget of B input weights (the post's: 3,140 of the 785 x 128 input layer) on the post's
protocol (tanh 784-128-10, weights uniform in +-1e-5, batch size 1, learning rate 0.01, the
data set's own train/test split, 200 + `steps` SGD steps), `METHODS` makes one RunConfig per
method from the protocol's base config and B:

  dense    no cut: the reference (all 100,480 input weights)
  post     the post's cut: after the 200-step dense burn-in keep the B largest |w| (keep:B).
           The post wrote halving:5, which is keep:3,140 only for a 785 x 128 layer (there the
           two give identical runs); keep:B hits any budget exactly, on any data set.
  random   the control: a random cut of the same size at the same step (random:f with the
           f that leaves exactly B)
  gradual  Zhu & Gupta: keep:B reached along the cubic schedule, from the end of the burn-in
           to 3/4 of the steps, in 50 magnitude cuts (prune_schedule gradual:END:EVERY)
  set      SET: sparse from step 0 (keep:B ranks the random initial weights: a random
           placement), init glorot rescaled to each unit's sparse fan-in, set:0.3 every 500
           steps (fewer in runs under 8,000 steps: 16 rewirings at least)
  rigl     RigL: the same, with rigl:0.3 (regrowth where the dense |gradient| is largest)

SET and RigL have no burn-in, so they train burn_in + steps sparse steps: every method makes
the same number of SGD steps. Their settings are benchmarks/bench_dst.py's (glorot: at 8,000
steps the post's 1e-5 weights leave a step-0 cut too little time; at 30,000 it changes
nothing). `compare(...)` runs every method for seeds 0..n-1 through `explorer.sweep` (so
OUT/runs.jsonl makes it resumable, Ctrl-C stops it cleanly, an executor such as Dask's runs
it elsewhere) and writes results.csv, results.json and two figures (accuracy with 95%
intervals; seconds per phase) into OUT. "Hidden units alive" is the runs' hidden_alive: the
units left in the net (a cut removes units left without any input weight, the bias's
included; SET and RigL keep every unit, as regrowth may reach any). Which pixels and units
the budget feeds is notebook 06's subject.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

from ..config import RunConfig, check_seeds
from ..errors import ConfigError, shown

BUDGET = 3140
STEPS = 30_000
GRADUAL_END = 0.75  # the gradual cut ends at this share of the steps after the burn-in ...
GRADUAL_CUTS = 50  # ... in this many cuts
REWIRE_EVERY = 500  # bench_dst.py's; shorter runs rewire at least MIN_REWIRINGS times
MIN_REWIRINGS = 16
DESCRIPTION = ("Run, at one input-layer budget on the post's protocol (784-128-10 tanh, batch 1, lr 0.01, 200 + "
               "STEPS SGD steps), dense training, the post's magnitude cut after the burn-in, a random cut of "
               "the same size, a gradual magnitude cut, SET and RigL, for seeds 0..N-1. Prints a table "
               "(accuracy with its 95% interval, hidden units alive, input weights kept, seconds, samples/s) "
               "and writes results.csv, results.json, runs.jsonl and figures into --out. Resumable: the same "
               "command again runs only what is missing.")


# -- the methods ------------------------------------------------------------------------------
def input_layer_size(base: RunConfig) -> int:
    """Weights of the input layer: (inputs + the bias) x the first hidden layer's units."""
    from ..data import io_sizes

    return (io_sizes(base.dataset, **base.data_args())[0] + 1) * base.hidden[0]


def net_shape(protocol: dict) -> str:
    """784-128-10 for MNIST-shaped data and hidden (128,); `protocol` is a RunConfig's dict."""
    from ..data import io_sizes

    cfg = RunConfig.from_dict(protocol)
    n_in, n_out = io_sizes(cfg.dataset, **cfg.data_args())
    return "-".join(str(n) for n in (n_in, *cfg.hidden, n_out))


def random_rule(budget: int, size: int) -> str:
    """random:f that leaves exactly `budget` of `size` weights. The rule's text keeps 6
    significant digits, so the f nearest (size - budget) / size may miss by one: try its
    neighbours in the last digit (one of them hits for layers under a million weights)."""
    from ..sparsity.prune import parse_rule

    want = size - budget
    if want == 0:
        return "none"
    f = want / size
    step = 10.0 ** (math.floor(math.log10(f)) - 5)
    for k in (0, 1, -1, 2, -2, 3, -3):
        text = str(parse_rule(f"random:{f + k * step:.6g}"))
        if round(float(text.split(":")[1]) * size) == want:
            return text
    return str(parse_rule(f"random:{f:.6g}"))


def gradual_schedule(base: RunConfig) -> str:
    """gradual:END:EVERY: from the burn-in to GRADUAL_END of the steps, GRADUAL_CUTS cuts."""
    span = max(1, round(GRADUAL_END * base.steps))
    return f"gradual:{base.burn_in + span}:{max(1, span // GRADUAL_CUTS)}"


def _dense(base, budget):
    return base.replace(prune="none")


def _post(base, budget):
    return base.replace(prune=f"keep:{budget}")


def _random(base, budget):
    return base.replace(prune=random_rule(budget, input_layer_size(base)))


def _gradual(base, budget):
    return base.replace(prune=f"keep:{budget}", prune_schedule=gradual_schedule(base))


def _from_step_0(base, budget, rewire):
    total = base.burn_in + base.steps
    return base.replace(prune=f"keep:{budget}", burn_in=0, steps=total, init="glorot", rewire=rewire,
                        rewire_every=max(1, min(REWIRE_EVERY, total // MIN_REWIRINGS)))


def _set(base, budget):
    return _from_step_0(base, budget, "set:0.3")


def _rigl(base, budget):
    return _from_step_0(base, budget, "rigl:0.3")


METHODS: dict[str, Callable[[RunConfig, int], RunConfig]] = {
    "dense": _dense, "post": _post, "random": _random, "gradual": _gradual, "set": _set, "rigl": _rigl}
SPARSE = ("post", "random", "gradual", "set", "rigl")  # the methods that keep exactly the budget


def describe(cfg: RunConfig) -> str:
    """What a method's config does, in one short line: "keep:3140 at step 0, set:0.3 every 500"."""
    if cfg.prune == "none":
        return "no cut"
    text = f"{cfg.prune} " + ("at step 0" if cfg.burn_in == 0 else f"after {cfg.burn_in} steps")
    if cfg.prune_schedule != "once":
        text += f", {cfg.prune_schedule}"
    if cfg.rewire != "none":
        text += f", {cfg.rewire} every {cfg.rewire_every}"
    return text


# -- planning ---------------------------------------------------------------------------------
def base_config(dataset: str, data_dir=None, steps: int = STEPS, label_column=None) -> RunConfig:
    """The post's protocol on the (resolved) data set and its own train/test split (a data file's:
    its seeded split, its SHA-256 recorded)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"--steps {steps!r}: expected a whole number >= 1 (SGD steps after the burn-in)")
    return RunConfig(dataset=dataset, data_dir=data_dir, label_column=label_column, hidden=(128,), activation="tanh",
                     init="post", init_scale=1e-5, burn_in=200, prune_layers=(0,), steps=steps, batch_size=1,
                     lr=0.01).validate().with_data()


def check_budget(budget, base: RunConfig) -> int:
    """The budget as an int, or a one-line ConfigError unless 1 <= budget <= the input layer."""
    size = input_layer_size(base)
    n_in = size // base.hidden[0]
    if isinstance(budget, bool) or not isinstance(budget, int) or not 1 <= budget <= size:
        raise ConfigError(f"--budget {shown(budget)}: the input layer of {base.dataset} ({n_in - 1:,} inputs + bias) x "
                          f"{base.hidden[0]} hidden units has {size:,} weights; pass a whole number from 1 to "
                          f"{size:,}")
    return budget


def plan(budget=BUDGET, seeds=3, dataset="auto", data_dir=None, steps=STEPS, methods=None,
         verbose=False, label_column=None) -> list[tuple[str, RunConfig]]:
    """Every run, as (method, config), method by method and seed by seed; nothing runs. Resolves
    "auto" to a data set (loading one sample) and checks the budget, seeds, steps and methods."""
    methods = list(METHODS) if methods is None else list(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ConfigError(f"methods={methods!r}: expected some of {', '.join(METHODS)}")
    check_seeds(seeds, len(methods))
    base = base_config(_resolve(dataset, data_dir, verbose), data_dir, steps, label_column)
    budget = check_budget(budget, base)
    return [(m, METHODS[m](base, budget).replace(seed=s).validate()) for m in methods for s in range(seeds)]


def _resolve(dataset, data_dir, verbose) -> str:
    from ..data import dataset_name, load

    if dataset != "auto":
        return dataset_name(dataset)
    return load("auto", data_dir, n_train=1, n_test=1, verbose=verbose).name


# -- running ----------------------------------------------------------------------------------
def compare(budget=BUDGET, seeds=3, dataset="auto", data_dir=None, steps=STEPS, out="compare", executor=None,
            workers=None, progress=True, formats=("html", "png", "svg"), methods=None, label_column=None) -> dict:
    """Run every method at `budget` input weights for seeds 0..seeds-1, through explorer.sweep.

    Writes OUT/runs.jsonl (the sweep's, resumable), results.csv, results.json and the figures
    `accuracy` and `time` in `formats`. Returns the results.json object -- {dataset, budget,
    seeds, steps, split, protocol, methods, rows, runs, failed, wall_seconds, figures, note} --
    plus "records" (the sweep's records, method by method and seed by seed). A budget larger
    than the input layer, bad seeds or steps: ConfigError (one line) before any run.
    """
    from ..files import write_json_atomic, write_text_atomic
    from .summary import csv_text
    from .sweeps import sweep

    runs = plan(budget, seeds, dataset, data_dir, steps, methods, verbose=bool(progress), label_column=label_column)
    t0 = time.perf_counter()
    records = sweep([c for _, c in runs], executor=executor, out=out, progress=progress, workers=workers)
    wall = time.perf_counter() - t0
    rows = table(runs, records, budget)
    base = base_config(runs[0][1].dataset, data_dir, steps, label_column)
    result = {"dataset": base.dataset, "budget": budget, "seeds": seeds, "steps": steps,
              "split": split_text(records), "protocol": base.to_dict(),
              "methods": {m: c.to_dict() for m, c in runs if c.seed == 0}, "rows": rows,
              "runs": len({r["run_id"] for r in records}), "failed": sum(r["status"] == "failed" for r in records),
              "wall_seconds": wall}
    out = Path(out)
    write_text_atomic(out / "results.csv", csv_text(rows, COLUMNS))
    paths, note = write_figures_of({**result, "records": records}, out, formats)
    inexact = [r["method"] for r in rows if r["budget_exact"] is False]
    if inexact:
        note = "; ".join(filter(None, [note, f"the budget was not kept exactly by {', '.join(inexact)}"]))
    result["figures"] = [p.name for p in paths]
    result["note"] = note
    write_json_atomic(out / "results.json", result)
    result["records"] = records
    return result


def table(runs, records, budget) -> list[dict]:
    """One row per method: accuracy mean and 95% interval over seeds, hidden units alive,
    input weights kept (and whether every run kept exactly the budget), seconds, samples/s."""
    from .summary import mean_ci, run_seconds

    rows = []
    for m in dict.fromkeys(m for m, _ in runs):
        recs = [r for (mm, _), r in zip(runs, records) if mm == m]
        cfg = next(c for mm, c in runs if mm == m)
        ok = [r for r in recs if r["status"] != "failed"]
        acc, acc_ci = mean_ci([r["test_accuracy"] for r in ok])
        sec, sec_ci = mean_ci([run_seconds(r) for r in ok])
        units = [r["hidden_alive"][0] for r in ok]
        kept = [r["weights_alive"][0] for r in ok]
        samples = (cfg.burn_in + cfg.steps) * cfg.batch_size
        phases = {k: mean_ci([r["seconds"].get(k, 0.0) for r in ok])[0] for k in ("burn_in", "prune", "train",
                                                                                    "rewire")}
        rows.append({"method": m, "description": describe(cfg), "prune": cfg.prune,
                     "schedule": cfg.prune_schedule, "rewire": cfg.rewire, "burn_in": cfg.burn_in,
                     "steps": cfg.steps, "init": cfg.init, "runs": len(recs), "failed": len(recs) - len(ok),
                     "accuracy": acc, "accuracy_ci95": acc_ci,
                     "accuracy_min": min((r["test_accuracy"] for r in ok), default=None),
                     "accuracy_max": max((r["test_accuracy"] for r in ok), default=None),
                     "hidden_alive": mean_ci(units)[0], "hidden_alive_min": min(units, default=None),
                     "hidden_alive_max": max(units, default=None),
                     "input_weights": round(mean_ci(kept)[0]) if kept else None,
                     "budget_exact": None if m not in SPARSE or not kept else all(k == budget for k in kept),
                     "seconds": sec, "seconds_ci95": sec_ci, "phase_seconds": phases,
                     "samples_per_second": samples / sec if sec else None,
                     "rewirings": max((r.get("rewirings", 0) for r in ok), default=None)})
    return rows


COLUMNS = ["method", "description", "prune", "schedule", "rewire", "burn_in", "steps", "init", "runs", "failed",
           "accuracy", "accuracy_ci95", "accuracy_min", "accuracy_max", "hidden_alive", "hidden_alive_min",
           "hidden_alive_max", "input_weights", "budget_exact", "seconds", "seconds_ci95", "samples_per_second",
           "rewirings"]


def split_text(records) -> str:
    """Which data the runs used, in words: "fashion-mnist, its own split (60,000 train / 10,000 test)"."""
    r = next((r for r in records if r["status"] != "failed"), None)
    if r is None:
        return records[0]["config"]["dataset"]
    return f"{r['dataset']}, its own train/test split ({r['n_train']:,} train / {r['n_test']:,} test samples)"


def format_table(result) -> str:
    """The table `explorer compare` prints, under a line on the data and the protocol."""
    def f(v, d=4):
        return "-" if v is None else f"{v:.{d}f}"

    head = ["method", "how", "accuracy +-95%", "hidden units alive", "input weights", "seconds", "samples/s"]
    body = []
    for r in result["rows"]:
        ci = "" if r["accuracy_ci95"] is None else f" +-{r['accuracy_ci95']:.4f}"
        lo, hi = r["hidden_alive_min"], r["hidden_alive_max"]
        units = "-" if lo is None else f"{lo}" if lo == hi else f"{r['hidden_alive']:.0f} ({lo}-{hi})"
        kept = "-" if r["input_weights"] is None else f"{r['input_weights']:,}"
        if r["budget_exact"] is False:
            kept += " (not exact)"
        sps = "-" if r["samples_per_second"] is None else f"{r['samples_per_second']:,.0f}"
        body.append([r["method"], r["description"], f(r["accuracy"]) + ci, units, kept, f(r["seconds"], 2), sps])
    widths = [max(len(x) for x in col) for col in zip(head, *body)]
    left = {0, 1}
    lines = ["  ".join(x.ljust(w) if i in left else x.rjust(w) for i, (x, w) in enumerate(zip(line, widths)))
             for line in [head, *body]]
    p = result["protocol"]
    first = f"Data: {result['split']}"
    shape = net_shape(p)
    second = (f"Budget: {result['budget']:,} input weights; {shape} {p['activation']}, batch {p['batch_size']}, "
              f"lr {p['lr']}, {p['burn_in']} + {p['steps']:,} SGD steps; {result['seeds']} seed(s), accuracy "
              f"on the test set")
    return "\n".join([first, second, "", *lines])


# -- figures ----------------------------------------------------------------------------------
COLORS = {"dense": "#1f77b4", "post": "#d62728", "random": "#7f7f7f", "gradual": "#9467bd", "set": "#2ca02c",
          "rigl": "#ff7f0e"}
PHASES = {"burn_in": ("dense burn-in", "#aec7e8"), "train": ("steps after the burn-in / cut", "#1f77b4"),
          "prune": ("cuts", "#d62728"), "rewire": ("rewirings", "#2ca02c")}


def figures(result) -> dict:
    """{"accuracy": ..., "time": ...}: plotly figures of a compare result (or of its results.json,
    which has no per-seed points)."""
    import plotly.graph_objects as go

    rows, recs, n = result["rows"], result.get("records"), result["seeds"]
    names = [r["method"] for r in rows]
    where = f"{result['budget']:,} input weights, {result['dataset']}, {n} seed(s), 95% intervals over seeds"
    legend = dict(orientation="h", y=-0.18, x=0, traceorder="normal")
    acc = go.Figure()
    acc.add_scatter(x=names, y=[r["accuracy"] for r in rows], mode="markers", name="mean and 95% interval",
                    marker=dict(size=13, color=[COLORS.get(m, "#333") for m in names], symbol="diamond"),
                    error_y=dict(type="data", array=[r["accuracy_ci95"] or 0 for r in rows], thickness=2, width=8,
                                 color="#444"))
    if recs:  # records come method by method, seed by seed
        ok = [(m, r["test_accuracy"]) for i, m in enumerate(names) for r in recs[i * n:(i + 1) * n]
              if r["status"] != "failed"]
        acc.add_scatter(x=[m for m, _ in ok], y=[a for _, a in ok], mode="markers", name="one seed",
                        marker=dict(size=8, color="rgba(0,0,0,0.5)", symbol="circle-open"))
    dense = next((r["accuracy"] for r in rows if r["method"] == "dense"), None)
    if dense is not None:
        for y, name, style in ((dense, "dense mean", dict(dash="dot", color=COLORS["dense"])),
                               (dense - 0.02, "dense - 2 points", dict(dash="dash", color="#999999"))):
            acc.add_scatter(x=[names[0], names[-1]], y=[y, y], mode="lines", name=name, line=style)
    acc.update_layout(title=dict(text=f"Test accuracy per method<br><sup>{where}</sup>"), xaxis_title="method",
                      yaxis_title="test accuracy", width=820, height=540, legend=legend, margin=dict(b=140))
    tim = go.Figure()
    ticks = [m if r["samples_per_second"] is None else f"<b>{m}</b><br>{r['samples_per_second']:,.0f}<br>samples/s"
             for m, r in zip(names, rows)]
    for key, (label, color) in PHASES.items():
        tim.add_bar(x=ticks, y=[(r["phase_seconds"] or {}).get(key) or 0 for r in rows], name=label,
                    marker_color=color)
    tim.update_layout(barmode="stack", title=dict(text=f"Seconds per run, by phase<br><sup>mean over {n} seed(s);"
                                                       f" {result['budget']:,} input weights, {result['dataset']}"
                                                       f"</sup>"),
                      xaxis=dict(title="method (samples per second of the whole run)", tickangle=0),
                      yaxis_title="seconds (this machine)", width=820, height=540,
                      legend=dict(orientation="h", y=-0.32, x=0, traceorder="normal"), margin=dict(b=170))
    return {"accuracy": acc, "time": tim}


def write_figures_of(result, out, formats):
    from ..export import write_figures

    return write_figures(figures(result), out, formats=formats)
