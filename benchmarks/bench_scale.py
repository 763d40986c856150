"""Scale benchmark: a million hidden units on one CPU core, memory and time that follow the survivors.

    python benchmarks/bench_scale.py [--quick] [--only 1,2,3,4,5]

Tables (RSS measured in a fresh process per run: VmHWM, memory.peak_rss_mb; times are medians):
1. 784-1,000,000-10, --burn-in 0 --prune erk:1 --prune-layers all --activation relu
   --batch-size 64, 20,000 samples (313 steps), against the same rule at 10,000 hidden units:
   set-up (initial weights + cut + compaction), peak RSS, live hidden units, test accuracy,
   nanoseconds per surviving weight per sample;
2. keep:3140 on every layer at 128 .. 1,000,000 hidden units (burn-in 20 up to 8,192 as
   bench_core.py, 0 above), batch 1 and 64: us/sample, and peak RSS beside the dense layer;
3. the post's net (784-128-10, 200-step burn-in, tanh): the sparse phase of halving:1..5 relative
   to dense training (k = 0), batch 1 and 64, with the engine the trainer picked, and the sparse
   and masked dense engines timed side by side (the break-even densities in explorer/engine/masked.py);
4. dense vs sparse (erk:1) time per sample and peak RSS against width, 128 .. 1,000,000 (what
   notebook 05 plots: explorer.experiments.scaling.scaling_table);
5. the memory check: the one-line refusals for runs that cannot fit.

The machine is shared: read ratios measured side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from report import table

from explorer import RunConfig, Trainer
from explorer.data import load
from explorer.engine import blas
from explorer.engine.engines import SparseEngine
from explorer.engine.masked import MaskedEngine
from explorer.experiments.scaling import measure, scaling_table

SAMPLES = 20_000  # target 1: samples seen (313 steps of 64)


def mb(x):
    return "-" if x is None else f"{x:,.0f} MB"


# -- 1. a million hidden units ------------------------------------------------------------
def million(quick: bool):
    widths = (10_000, 100_000) if quick else (10_000, 1_000_000)
    steps = -(-SAMPLES // 64)
    rows, recs = [], {}
    for h in widths:
        r = measure(h, prune="erk:1", batch_size=64, seconds=0, steps=steps, activation="relu")
        recs[h] = r
        if "skipped" in r:
            rows.append([f"{h:,}", r["skipped"], "", "", "", "", ""])
            continue
        rows.append([f"{h:,}", f"{r['cut_s']:.2f} s (set-up {r['setup_s']:.2f} s)",
                     f"{mb(r['peak_rss_mb'])} (dense input layer {mb(r['dense_layer_mb'])})",
                     f"{r['hidden_alive'][0]:,}", f"{r['test_accuracy']:.4f}", f"{sum(r['weights_alive']):,}",
                     f"{r['ns_per_weight']:.2f}"])
    a, b = recs[widths[0]], recs[widths[1]]
    ratio = b["ns_per_weight"] / a["ns_per_weight"] if "skipped" not in a and "skipped" not in b else None
    table(f"1. 784-H-10, erk:1 on every layer, ReLU, batch 64, burn-in 0, {SAMPLES:,} samples ({steps} steps)",
          ["hidden", "init + cut + compaction (target <= 10 s)", "peak RSS (target <= 1.5 GB)",
           "live hidden units (target >= 300,000)", "test accuracy (target >= 0.70)", "weights trained",
           "ns per weight per sample"], rows)
    if ratio is not None:
        print(f"\nns per surviving weight per sample, {widths[1]:,} vs {widths[0]:,} hidden: {ratio:.2f}x "
              f"(target <= 2x)")
    # the whole run at the larger width, without and with every dashboard view on one Board
    seen = measure(widths[1], prune="erk:1", batch_size=64, seconds=0, steps=steps, activation="relu", views=True)
    rows = [[name, f"{x['run_s']:.1f}", f"{x['seconds']['train']:.1f}", f"{x['seconds']['eval']:.1f}",
             x.get("frames", 0), mb(x["peak_rss_mb"])] for name, x in (("no views", b), ("every view", seen))
            if "skipped" not in x]
    table(f"1b. the whole {widths[1]:,}-unit run (set-up, {steps} steps, evaluation of the test set)",
          ["run", "wall s", "train s", "evaluation s", "frames drawn", "peak RSS"], rows)


# -- 2. fixed budget, every width ---------------------------------------------------------
def budget(quick: bool):
    widths = (128, 8192, 1_000_000) if quick else (128, 1024, 8192, 65_536, 1_000_000)
    rows = []
    for h in widths:
        row = [f"{h:,}"]
        for B in (1, 64):
            r = measure(h, prune="keep:3140", batch_size=B, burn_in=20 if h <= 8192 else 0, activation="tanh",
                        seconds=3.0 if quick else 6.0, reps=3)
            if "skipped" in r:
                row += [r["skipped"][:60], ""]
                continue
            row += [f"{r['us_per_sample']:.2f} ({r['hidden_alive'][0]:,} u, {sum(r['weights_alive']):,} w)",
                    f"{mb(r['peak_rss_mb'])}"]
        row.append(mb(8 * 785 * h / 2**20))
        rows.append(row)
    table("2. Fixed budget keep:3140 on every layer (tanh; burn-in 20 up to 8,192 hidden, 0 above): sparse phase, "
          "us/sample (live units, weights), median of 3, and peak RSS",
          ["hidden", "B=1 (target <= 10)", "peak RSS, B=1", "B=64 (target <= 5)", "peak RSS, B=64",
           "dense input layer (float64)"], rows)


# -- 3. halvings: no cut slower than no cut -----------------------------------------------
def _engines(data, k, B):
    """The post's net after its 200-step burn-in and halving:k (k = 0: no cut, dense): the
    trainer's engine, and for k > 0 the sparse and masked dense engines on copies of its net."""
    cfg = RunConfig(dataset="fashion-mnist", hidden=(128,), burn_in=200, prune="none" if k == 0 else f"halving:{k}",
                    steps=10**7, batch_size=B)
    t = Trainer(cfg).setup(data)
    t.run(steps=201)
    if k == 0:
        return t.engine, None, None, 1.0
    net = t.engine.net
    density = len(net.data) / float(np.sum(net.sizes[:-1] * net.sizes[1:]))
    sparse = SparseEngine(t.engine.net, t.data, False, B, "numba")
    return t.engine, sparse, MaskedEngine(t.engine.net, t.data, False, B), density


def _us(engine, data, B, steps, r):
    idx = ((r * steps * B + np.arange(steps * B)) % data.n_train).reshape(steps, B)
    t0 = time.perf_counter()
    engine.steps(idx, 0.01, 1000)
    return (time.perf_counter() - t0) / steps / B * 1e6


def halvings(data, quick: bool):
    """Every engine timed in turn within each repeat (dense first), so that the ratios compare
    times measured seconds apart on this shared machine; medians over the repeats."""
    rows, reps = [], 5 if quick else 11
    for B in (1, 64):
        steps = 2000 if B == 1 else 100
        dense = _engines(data, 0, B)[0]
        runs = {k: _engines(data, k, B) for k in range(1, 6)}
        times = {key: [] for key in ["dense"] + [(k, w) for k in runs for w in ("picked", "sparse", "masked")]}
        with blas.one_thread():
            for r in range(reps + 1):
                d = _us(dense, data, B, steps, r)
                for k, (picked, sparse, masked, _) in runs.items():
                    for w, e in (("picked", picked), ("sparse", sparse), ("masked", masked)):
                        if r:  # the first round warms up
                            times[(k, w)].append(_us(e, data, B, steps, r) / d)
                if r:
                    times["dense"].append(d)
        med = statistics.median
        d = med(times["dense"])
        for k, (picked, _, _, dens) in runs.items():
            rel = med(times[(k, "picked")])
            rows.append([B, k, f"{dens:.3f}", picked.name, f"{rel * d:.2f}", f"{d:.2f}", f"{rel:.2f}",
                         f"{med(times[(k, 'sparse')]) * d:.2f}", f"{med(times[(k, 'masked')]) * d:.2f}"])
    table("3. 784-128-10 tanh after the post's 200-step burn-in: the sparse phase of halving:k vs dense training "
          "(k = 0), us/sample; ratios taken within each repeat, medians",
          ["batch", "k", "density (compacted)", "engine picked", "halving:k", "dense (k = 0)",
           "relative to k = 0 (target <= 1.05)", "sparse engine", "masked engine"], rows)


# -- 4. dense vs sparse against width ------------------------------------------------------
def versus_width(quick: bool):
    widths = (128, 1024, 8192, 65_536) if quick else (128, 1024, 8192, 65_536, 1_000_000)
    rows = []
    for r in scaling_table(widths, prune="erk:1", batch_size=64, seconds=1.0 if quick else 3.0, progress=False):
        if "skipped" in r:
            rows.append([f"{r['hidden']:,}", r["mode"], r["skipped"][:80], "", "", ""])
            continue
        rows.append([f"{r['hidden']:,}", r["mode"], f"{r['us_per_sample']:.2f}", mb(r["peak_rss_mb"]),
                     f"{sum(r['weights_alive']):,}", r["engine"]])
    table("4. Dense vs sparse (erk:1 every layer, burn-in 0, ReLU, batch 64) against width: us/sample and peak RSS "
          "(explorer.experiments.scaling.scaling_table, what notebook 05 plots)",
          ["hidden", "mode", "us/sample", "peak RSS", "weights trained", "engine"], rows)


# -- 5. the memory check -------------------------------------------------------------------
def refusals():
    rows = []
    for args in (["--hidden", "100000000"], ["--burn-in", "1000000000000"],
                 ["--batch-size", "60000", "--burn-in", "1000000"],
                 ["--hidden", "100000000", "--burn-in", "0", "--prune", "erk:1", "--activation", "relu"]):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "explorer", "train", "--dataset", "fashion-mnist", "--steps", "1",
                              *args], capture_output=True, text=True)
        line = (out.stderr.strip().splitlines() or [""])[-1]
        rows.append([" ".join(args), out.returncode, f"{time.perf_counter() - t0:.1f} s", line])
    table("5. Runs that cannot fit: one line, exit status 2, before anything large is allocated",
          ["explorer train --dataset fashion-mnist --steps 1 ...", "exit", "wall", "message"], rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="smaller widths and fewer repeats (a few minutes)")
    p.add_argument("--only", default="1,2,3,4,5", help="comma-separated tables, e.g. --only 1,3")
    a = p.parse_args(argv)
    only = {int(t) for t in a.only.split(",") if t.strip()}
    print(f"# bench_scale: {os.cpu_count()} cores, numpy {np.__version__}, load average {os.getloadavg()}")
    data = load("fashion-mnist", verbose=False)
    if 1 in only:
        million(a.quick)
    if 2 in only:
        budget(a.quick)
    if 3 in only:
        halvings(data, a.quick)
    if 4 in only:
        versus_width(a.quick)
    if 5 in only:
        refusals()
    print(f"\nload average at the end (1, 5, 15 min): {os.getloadavg()}")


if __name__ == "__main__":
    main()
