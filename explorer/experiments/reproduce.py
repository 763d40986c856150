"""`explorer reproduce`: the post's three experiments, its control, and its numbers beside ours.

The experiments (../shared/reference/seed-results.md), all on the post's protocol -- tanh
784-H-10, weights uniform in +-1e-5, 200 burn-in steps, batch size 1, learning rate 0.01,
30,000 SGD steps over the training set in order, only the input layer pruned, and on
MNIST-shaped data the post's split (train on samples 0..39,999, test on 40,000..40,499):

  width     dense (k = 0) nets of 2, 4, 8, 16, 32, 64, 128 hidden units;
  halvings  128 hidden units, k = 0..5 halvings (1/2^k of the input layer survives);
  budget    about 3,140 input weights: H = 4..128 with k = log2(H * 785 / 3140) (on data with
            fewer inputs the same k keep fewer weights -- digits: ~260 -- and the table and
            figures say what was kept).

Every pruned run (k >= 1) also runs the control the post's code calls `random_sparsify`:
`random:f`, which kills the same fraction f = 1 - 1/2^k at random. Runs shared between
experiments (e.g. 128 units, k = 5) run once. The runs go through `explorer.sweep`, so they
land in DIR/runs.jsonl, an interrupted reproduce resumes where it stopped, and a Ctrl-C stops
it as it stops a sweep.

MNIST-shaped data with fewer than the 40,500 training samples the post's split needs (say
8,000 train / 2,000 test) is trained and tested on its own train/test split instead; the
table says so above its first line. Which split fits is found out before any run.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ..config import RunConfig, check_seeds
from ..errors import ExplorerError
from ..files import write_json_atomic, write_text_atomic

# The post's published numbers: {hidden or k: (accuracy, seconds for 30,000 steps)}, 2016 laptop.
POST = {
    "width": {2: (0.192, 181.6), 4: (0.356, 224.1), 8: (0.672, 290.1), 16: (0.918, 452.7),
              32: (0.940, 798.8), 64: (0.936, 1527.1), 128: (0.938, 2869.0)},
    "halvings": {0: (0.938, 2869.0), 1: (0.942, 1495.6), 2: (0.918, 853.9), 3: (0.904, 523.0),
                 4: (0.902, 438.1), 5: (0.852, 334.8)},
    "budget": {4: (0.204, 203.8), 8: (0.682, 191.3), 16: (0.880, 200.5), 32: (0.870, 199.3),
               64: (0.890, 225.6), 128: (0.832, 256.5)},
}
WIDTHS = (2, 4, 8, 16, 32, 64, 128)
HALVINGS = (0, 1, 2, 3, 4, 5)
BUDGET_WIDTHS = (4, 8, 16, 32, 64, 128)
BUDGET = 3140
QUICK_STEPS = 5_000
QUICK_HELP = (f"--quick: {QUICK_STEPS:,} SGD steps instead of 30,000, on the first {QUICK_STEPS:,} training samples "
              f"(so one pass, as in the post), with the same widths, halvings, controls and test samples. "
              f"About 25 runs, well under a minute on 2 cores.")


DESCRIPTION = ("Run the post's experiments (dense widths 2..128; 128 units with k = 0..5 halvings; a fixed budget "
               "of ~3,140 input weights at 4..128 units) on its protocol (burn-in 200, batch 1, lr 0.01, 30,000 "
               "steps; the post's 40,000/500 split on MNIST-shaped data), each pruned run also with a random cut "
               "of the same size. Prints a table beside the post's published numbers and writes results.csv, "
               "results.json, runs.jsonl and figures into --out. Resumable: the same command again runs only "
               "what is missing.")


def budget_k(hidden: int) -> int:
    return max(0, round(math.log2(hidden * 785 / BUDGET)))


def plan(base: RunConfig) -> list[dict]:
    """The rows of the three experiments: {experiment, hidden, k, control, config}."""
    rows = []

    def add(experiment, hidden, k):
        cfg = base.replace(hidden=(hidden,), prune="none" if k == 0 else f"halving:{k}")
        rows.append({"experiment": experiment, "hidden": hidden, "k": k, "control": "magnitude", "config": cfg})
        if k > 0:
            rows.append({"experiment": experiment, "hidden": hidden, "k": k, "control": "random",
                         "config": cfg.replace(prune=f"random:{1 - 0.5 ** k:g}")})

    for h in WIDTHS:
        add("width", h, 0)
    for k in HALVINGS:
        add("halvings", 128, k)
    for h in BUDGET_WIDTHS:
        add("budget", h, budget_k(h))
    return rows


def post_shaped(dataset: str) -> bool:
    """Is the data set MNIST-shaped (28x28 images: the post's 40,000/500 split fits its layout)?"""
    from ..data import REGISTRY, canonical_name

    try:
        return REGISTRY[canonical_name(dataset)].mnist_shaped
    except (ExplorerError, KeyError):
        return False


def fits_post_split(dataset: str, data_dir) -> bool:
    """Does the (resolved) data set take the post's split -- MNIST-shaped, 40,500 training samples
    or more? Loads one sample; a data set that is not there at all is a one-line DataError."""
    from ..data import load

    if post_shaped(dataset):
        try:
            load(dataset, data_dir, heldout="post", n_train=1, n_test=1, verbose=False)
            return True
        except ExplorerError:
            pass
    load(dataset, data_dir, n_train=1, n_test=1, verbose=False)
    return False


def base_config(dataset: str, data_dir, quick: bool, post_split: bool | None = None) -> RunConfig:
    """The post's protocol on the resolved data set: its split when `post_split` (default: when
    the data set is MNIST-shaped), else the data set's own train/test split."""
    post_split = post_shaped(dataset) if post_split is None else post_split
    extra = {"heldout": "post"} if post_split else {}
    cfg = RunConfig(dataset=dataset, data_dir=data_dir, activation="tanh", init_scale=1e-5, burn_in=200,
                    prune_layers=(0,), steps=30_000, batch_size=1, lr=0.01, extra=extra)
    if quick:
        cfg = cfg.replace(steps=QUICK_STEPS, n_train=QUICK_STEPS if post_split else None)
    return cfg.validate()


def reproduce(dataset="auto", data_dir=None, out="reproduce", quick=False, seeds=1, executor=None,
              workers=None, progress=True, formats=("html", "png", "svg")) -> dict:
    """Run the experiments and write results.csv, results.json and figures into `out`.

    Returns the results.json object: {dataset, quick, seeds, protocol, rows, post, figures, note}.
    """
    from .sweeps import sweep

    check_seeds(seeds)
    dataset = _resolve(dataset, data_dir, progress)
    post_split = fits_post_split(dataset, data_dir)
    base = base_config(dataset, data_dir, quick, post_split)
    rows = plan(base)
    check_seeds(seeds, len(rows))
    seeds = list(range(seeds))
    configs = [r["config"].replace(seed=s) for r in rows for s in seeds]
    t0 = time.perf_counter()
    records = sweep(configs, executor=executor, out=out, progress=progress, workers=workers)
    wall = time.perf_counter() - t0
    table = _table(rows, records, len(seeds))
    result = {"dataset": dataset, "quick": quick, "seeds": len(seeds), "wall_seconds": wall,
              "split": split_text(dataset, post_split, records), "budget_kept": budget_kept(table),
              "protocol": base.to_dict(), "rows": table, "post": {k: {str(a): b for a, b in v.items()}
                                                                   for k, v in POST.items()},
              "runs": len({r["run_id"] for r in records}), "failed": sum(r["status"] == "failed" for r in records)}
    out = Path(out)
    write_text_atomic(out / "results.csv", _csv(table))
    paths, note = _figures(table, dataset, out, formats, result["budget_kept"])
    result["figures"] = [p.name for p in paths]
    result["note"] = note
    write_json_atomic(out / "results.json", result)
    result["records"] = records
    return result


def _resolve(dataset, data_dir, verbose) -> str:
    """The data set's canonical name ('fmnist' -> 'fashion-mnist'; 'auto' -> what it loads; a file's path)."""
    from ..data import dataset_name, load

    if dataset != "auto":
        return dataset_name(dataset)

    return load("auto", data_dir, n_train=1, n_test=1, verbose=verbose).name


def split_text(dataset, post_split: bool, records) -> str:
    """Which samples the runs trained and tested on, in words (printed above the table)."""
    if post_split:
        return (f"{dataset}, the post's split: trained on training samples 0..39,999, tested on "
                f"40,000..40,499")
    sizes = next(((r["n_train"], r["n_test"]) for r in records if r["status"] != "failed"), None)
    counts = f" ({sizes[0]:,} train / {sizes[1]:,} test samples)" if sizes else ""
    why = "; the post's split needs 40,500 training samples" if post_shaped(dataset) else ""
    return f"{dataset}, its own train/test split{counts}{why}"


def budget_kept(table) -> int | None:
    """The input weights the fixed-budget runs kept (the median over widths), None if none finished."""
    kept = sorted(r["input_weights_left"] for r in table
                  if r["experiment"] == "budget" and r["input_weights_left"] is not None)
    return kept[len(kept) // 2] if kept else None


def _budget_label(kept) -> str:
    if kept is None or abs(kept - BUDGET) <= 0.05 * BUDGET:
        return f"~{BUDGET:,} input weights"
    return f"~{kept:,} input weights (the post's {BUDGET:,} at 785 inputs)"


def plan_runs(dataset="auto", data_dir=None, quick=False, seeds=1) -> list[RunConfig]:
    """Every run `reproduce` would make (shared runs listed once), without running any; checks
    that the data set is there and which split fits it."""
    check_seeds(seeds)
    dataset = _resolve(dataset, data_dir, False)
    rows = plan(base_config(dataset, data_dir, quick, fits_post_split(dataset, data_dir)))
    check_seeds(seeds, len(rows))
    cfgs = [r["config"].replace(seed=s) for r in rows for s in range(seeds)]
    return list({json.dumps(c.to_dict(), sort_keys=True): c for c in cfgs}.values())


def _table(rows, records, n_seeds) -> list[dict]:
    """One line per (experiment, hidden, k): ours, the random control, the post's numbers."""
    from .summary import mean_ci, run_seconds

    n = len(rows)
    by_row = [records[i * n_seeds:(i + 1) * n_seeds] for i in range(n)]
    out, index = [], {}
    for row, recs in zip(rows, by_row):
        key = (row["experiment"], row["hidden"], row["k"])
        if key not in index:
            post = POST[row["experiment"]][row["k"] if row["experiment"] == "halvings" else row["hidden"]]
            index[key] = {"experiment": row["experiment"], "hidden": row["hidden"], "k": row["k"],
                          "input_weights_left": None, "accuracy": None, "accuracy_ci95": None, "seconds": None,
                          "random_accuracy": None, "random_accuracy_ci95": None, "random_seconds": None,
                          "post_accuracy": post[0], "post_seconds": post[1], "seeds": n_seeds, "failed": 0}
            out.append(index[key])
        line = index[key]
        ok = [r for r in recs if r["status"] != "failed"]
        line["failed"] += len(recs) - len(ok)
        acc, acc_ci = mean_ci([r["test_accuracy"] for r in ok])
        sec, _ = mean_ci([run_seconds(r) for r in ok])
        if row["control"] == "magnitude":
            alive, _ = mean_ci([r["weights_alive"][0] for r in ok])
            line.update(input_weights_left=None if alive is None else round(alive), accuracy=acc,
                        accuracy_ci95=acc_ci, seconds=sec)
        else:
            line.update(random_accuracy=acc, random_accuracy_ci95=acc_ci, random_seconds=sec)
    return out


COLUMNS = ["experiment", "hidden", "k", "input_weights_left", "accuracy", "accuracy_ci95", "random_accuracy",
           "random_accuracy_ci95", "post_accuracy", "seconds", "random_seconds", "post_seconds", "seeds", "failed"]


def _csv(table) -> str:
    from .summary import csv_text

    return csv_text(table, COLUMNS)


def format_table(table, dataset, split: str | None = None) -> str:
    """The table printed by `explorer reproduce`: ours next to the post's (MNIST, 2016 laptop),
    under a line saying which data and split (`split`, from `split_text`) the runs used."""
    def f(v, d=3):
        return "-" if v is None else f"{v:.{d}f}"

    def acc(v, ci):
        return f(v) + ("" if ci is None else f"+-{ci:.3f}")

    titles = {"width": "Hidden units, dense (k = 0)", "halvings": "128 hidden units, k halvings",
              "budget": f"Fixed budget of {_budget_label(budget_kept(table))}"}
    head = ["hidden", "k", "input weights", f"accuracy ({dataset})", "random cut", "post (MNIST)",
            "seconds", "random s", "post s"]
    lines = []
    for exp, title in titles.items():
        left = ["-" if r["input_weights_left"] is None else f"{r['input_weights_left']:,}" for r in table
                if r["experiment"] == exp]
        body = [[str(r["hidden"]), str(r["k"]), n_left,
                 acc(r["accuracy"], r["accuracy_ci95"]), acc(r["random_accuracy"], r["random_accuracy_ci95"]),
                 f(r["post_accuracy"]), f(r["seconds"], 2), f(r["random_seconds"], 2), f(r["post_seconds"], 1)]
                for r, n_left in zip([r for r in table if r["experiment"] == exp], left)]
        widths = [max(len(x) for x in col) for col in zip(head, *body)]
        lines += ["", title] + ["  ".join(x.rjust(w) for x, w in zip(line, widths)) for line in [head, *body]]
    return "\n".join(([f"Data: {split}", ""] if split else []) + lines[1:])


def _figures(table, dataset, out, formats, kept=None):
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ..export import write_figures

    def pick(exp, key, x="hidden"):
        rows = [r for r in table if r["experiment"] == exp]
        return {"x": [r[x] for r in rows], "y": [r[key] for r in rows]}

    colors = {"dense": "#1f77b4", "magnitude": "#d62728", "random": "#2ca02c"}

    def ours(kind):
        return {"mode": "lines+markers", "line": {"color": colors[kind]}}

    def post(kind):
        return {"mode": "lines+markers", "line": {"dash": "dash", "color": colors[kind]}, "opacity": 0.5}

    xaxis = {"type": "log", "tickvals": list(WIDTHS), "ticktext": [str(w) for w in WIDTHS], "title": "hidden units"}
    legend = {"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0}
    budget, post_budget = _budget_label(kept), f"~{BUDGET:,} input weights"

    acc = go.Figure()
    acc.add_scatter(**pick("width", "accuracy"), name=f"dense ({dataset})", **ours("dense"))
    acc.add_scatter(**pick("budget", "accuracy"), name=f"{budget}, magnitude cut", **ours("magnitude"))
    acc.add_scatter(**pick("budget", "random_accuracy"), name=f"{budget}, random cut", **ours("random"))
    acc.add_scatter(**pick("width", "post_accuracy"), name="post: dense (MNIST)", **post("dense"))
    acc.add_scatter(**pick("budget", "post_accuracy"), name=f"post: {post_budget} (MNIST)", **post("magnitude"))
    acc.update_layout(title=f"Accuracy vs width ({dataset}; dashed: the post, MNIST)", xaxis=xaxis,
                      yaxis_title="test accuracy", width=820, height=560, legend=legend)

    tim = make_subplots(specs=[[{"secondary_y": True}]])
    tim.add_scatter(**pick("width", "seconds"), name="dense", **ours("dense"))
    tim.add_scatter(**pick("budget", "seconds"), name=f"{budget}, magnitude cut", **ours("magnitude"))
    tim.add_scatter(**pick("budget", "random_seconds"), name=f"{budget}, random cut", **ours("random"))
    tim.add_scatter(**pick("width", "post_seconds"), name="post: dense (right axis)", secondary_y=True,
                    **post("dense"))
    tim.add_scatter(**pick("budget", "post_seconds"), name=f"post: {post_budget} (right axis)", secondary_y=True,
                    **post("magnitude"))
    tim.update_layout(title="Time vs width (burn-in + prune + training)", xaxis=xaxis, width=820, height=560,
                      legend=legend)
    tim.update_yaxes(title_text="seconds, this machine", rangemode="tozero", secondary_y=False)
    tim.update_yaxes(title_text="seconds, the post (2016, pure Python)", rangemode="tozero", secondary_y=True)

    hal = make_subplots(rows=1, cols=2, subplot_titles=("test accuracy", "time relative to k = 0"))
    ks = pick("halvings", "accuracy", "k")["x"]
    series = (("accuracy", "seconds", "magnitude cut (ours)", ours("magnitude")),
              ("random_accuracy", "random_seconds", "random cut (ours)", ours("random")),
              ("post_accuracy", "post_seconds", "post (MNIST)", post("magnitude")))
    for a_key, s_key, name, style in series:
        hal.add_scatter(x=ks, y=pick("halvings", a_key, "k")["y"], name=name, legendgroup=name, row=1, col=1,
                        **style)
        ys = pick("halvings", s_key, "k")["y"]
        ref = pick("halvings", "post_seconds" if s_key == "post_seconds" else "seconds", "k")["y"][0]
        rel = [None if (y is None or not ref) else y / ref for y in ys]
        hal.add_scatter(x=ks, y=rel, name=name, legendgroup=name, showlegend=False, row=1, col=2, **style)
    hal.update_xaxes(title_text="k halvings (128 hidden units)")
    hal.update_layout(title="Accuracy and time vs halvings of the input layer", width=1000, height=520,
                      legend=legend)
    return write_figures({"accuracy_vs_width": acc, "time_vs_width": tim, "halvings": hal}, out, formats=formats)
