"""Core speed benchmark (issue 2, Speed): every table measured side by side in one run.

    python benchmarks/bench_core.py [--quick] [--only 1,5]

Tables (medians of repeats; per-sample times in microseconds):
1. the post's headline run (784-128-10, halving:5, 30,000 steps at batch 1) end to end,
   data loading excluded, with its phase breakdown, against the post's 256.5 s and 2,869 s;
2. a fixed budget of 3,140 surviving weights (keep:3140), widths 128 .. 8,192, batch 1 and
   64: every layer pruned, and the input layer only (the dense output layer grows);
3. the sparse phase against dense training of the same net at 4,096 hidden units (ours,
   and PyTorch CPU when torch is installed);
4. the break-even density (sparse phase vs dense) at batch 1 and 64;
5. the dense phase (burn-in) against the same model in PyTorch CPU (float64; float32 for
   information).

The machine is shared and noisy: compare ratios within one run. OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE slow a current numpy; unset them for this command only if they are set.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from report import cpu_name, table
from threadpoolctl import threadpool_info

from explorer import RunConfig, Trainer
from explorer.data import load
from explorer.engine import kernels as K
from explorer.engine.engines import SparseEngine
from explorer.engine.masked import MaskedEngine

HAVE_TORCH = importlib.util.find_spec("torch") is not None  # else the torch columns are skipped

POST_SPARSE_S = 256.5  # the post: 128 hidden, ~3,140 input weights, 30,000 steps
POST_DENSE_S = 2869.0  # the post: 128 hidden, dense, 30,000 steps


def med(xs):
    return statistics.median(xs)


def f(x, nd=2):
    return "-" if x is None else f"{x:.{nd}f}"


# -- 1. headline run ------------------------------------------------------------------------
def headline(data, reps):
    Trainer(RunConfig(steps=200)).fit(data)  # compile / warm caches
    runs = []
    for _ in range(reps):
        t0 = time.perf_counter()
        t = Trainer(RunConfig()).fit(data)
        wall = time.perf_counter() - t0
        runs.append((wall, t.results_))
    wall = med([w for w, _ in runs])
    secs = {k: med([r["seconds"][k] for _, r in runs]) for k in ("burn_in", "prune", "train", "eval")}
    r = runs[0][1]
    rows = [["fit() wall, data loaded before", f(wall, 3), f"{POST_SPARSE_S / wall:,.0f}x",
             f"{POST_DENSE_S / wall:,.0f}x"]]
    for k, v in secs.items():
        rows.append([f"  {k}", f(v, 3), "", ""])
    rows.append(["  setup (data checks, init) and the rest", f(wall - sum(secs.values()), 3), "", ""])
    rows.append(["  train us/step", f(secs["train"] / 30_000 * 1e6), "", ""])
    table(f"1. Headline run end to end (784-128-10, halving:5, 30,000 steps, batch 1; median of {reps}; "
          f"weights alive {r['weights_alive']}, hidden alive {r['hidden_alive']}, "
          f"test accuracy {r['test_accuracy']:.4f})",
          ["what", "seconds", "vs post sparse 256.5 s", "vs post dense 2,869 s"], rows)
    return wall


# -- sparse phase per sample ----------------------------------------------------------------
def sparse_us(data, width, B, prune="keep:3140", layers="all", steps=None, burn=20, reps=3, kernels=False):
    """Median us/sample of the sparse phase (after burn-in and pruning), via the Trainer, with the
    engine it picks (masked dense above the break-even density), or with `kernels` the sparse
    kernels whatever the density."""
    steps = steps or (4000 if B == 1 else 150)
    t = Trainer(RunConfig(hidden=(width,), burn_in=burn, prune=prune, prune_layers=layers,
                          steps=(reps + 1) * steps + 100, batch_size=B)).setup(data)
    t.run(steps=burn)
    t.run(steps=0)  # prune
    if kernels and isinstance(t.engine, MaskedEngine):
        t.engine = SparseEngine(t.engine.net, t.data, False, B, "numba")
    t.run(steps=50)  # warm
    out = []
    for _ in range(reps):
        s0 = t.state.seconds["train"]
        t.run(steps=steps)
        out.append((t.state.seconds["train"] - s0) / steps / B * 1e6)
    alive = t.results_["weights_alive"] if t.results_ else [lv.n_alive for lv in t.state.layers]
    return med(out), alive, int(t.engine.hidden_alive[0])


def dense_us(data, width, B, steps=None, reps=3):
    """Median us/sample of our dense numpy phase (burn-in steps, one BLAS thread at batch 1)."""
    steps = steps or (max(20, 20_000 // width) if B == 1 else max(4, 2000 // width))
    out = []
    for _ in range(reps):
        t = Trainer(RunConfig(hidden=(width,), burn_in=steps + 2, prune="none", steps=1, batch_size=B)).setup(data)
        t.run(steps=2)
        s0 = t.state.seconds["burn_in"]
        t.run(steps=steps)
        out.append((t.state.seconds["burn_in"] - s0) / steps / B * 1e6)
    return med(out)


def torch_us(data, width, B, dtype, steps=None, reps=3):
    """Median us/sample of the same model in PyTorch CPU (see _torch_worker), best of 1 and
    2 intra-op threads, each measured in a fresh process: torch's OpenMP threads keep
    spinning after a run and would slow whatever is measured next in this process."""
    if not HAVE_TORCH:
        return None
    steps = steps or (max(20, 20_000 // width) if B == 1 else max(4, 2000 // width))
    best = None
    for threads in (1, 2):
        cmd = [sys.executable, __file__, "--torch-worker", str(width), str(B), dtype, str(steps), str(reps),
               str(threads)]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            print(f"warning: torch worker failed: {out.stderr.strip().splitlines()[-1:]}")
            continue
        v = float(out.stdout.strip().splitlines()[-1])
        best = v if best is None else min(best, v)
    return best


def _torch_worker(width, B, dtype, steps, reps, threads):
    """The model written the idiomatic PyTorch way: tanh MLP with the bias unit on the input,
    squared error on +-1 targets, autograd, plain SGD under torch.no_grad()."""
    import torch

    torch.set_num_threads(threads)
    dt = getattr(torch, dtype)
    data = load("fashion-mnist", verbose=False)
    X = torch.as_tensor(data.X_train[: (steps + 3) * B], dtype=dt)
    y = torch.as_tensor(data.y_train[: (steps + 3) * B])
    T = -torch.ones((len(y), 10), dtype=dt)
    T[torch.arange(len(y)), y] = 1.0
    W0 = torch.empty((785, width), dtype=dt).uniform_(-1e-5, 1e-5).requires_grad_()
    W1 = torch.empty((width, 10), dtype=dt).uniform_(-1e-5, 1e-5).requires_grad_()
    ones = torch.ones((B, 1), dtype=dt)
    lr = 0.01

    def run(n):
        for s in range(n):
            xb = torch.cat([X[s * B : (s + 1) * B], ones], dim=1)
            out = torch.tanh(torch.tanh(xb @ W0) @ W1)
            loss = 0.5 * ((T[s * B : (s + 1) * B] - out) ** 2).sum() / B
            loss.backward()
            with torch.no_grad():
                W0.sub_(lr * W0.grad)
                W1.sub_(lr * W1.grad)
                W0.grad = None
                W1.grad = None

    run(3)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run(steps)
        out.append((time.perf_counter() - t0) / steps / B * 1e6)
    print(med(out))


# -- 2. fixed budget width scan -------------------------------------------------------------
def width_scan(data, widths, reps):
    rows = []
    for w in widths:
        row = [f"{w:,}"]
        for layers in ("all", (0,)):
            for B in (1, 64):
                us, alive, h = sparse_us(data, w, B, layers=layers, reps=reps)
                row.append(f"{f(us)} ({h} u, {sum(alive):,} w)")
        rows.append(row)
    table("2. Fixed budget keep:3140: sparse phase, us/sample (hidden units alive after compaction, "
          "weights trained)",
          ["hidden", "all layers, B=1 (target <=10)", "all layers, B=64 (target <=5)",
           "input layer only, B=1", "input layer only, B=64"], rows)


# -- 3. sparse vs dense at 4,096 hidden -----------------------------------------------------
def versus_dense(data, reps):
    rows = []
    for B in (1, 64):
        us, alive, h = sparse_us(data, 4096, B, layers=(0,), reps=reps)
        d = dense_us(data, 4096, B, reps=reps)
        tt = torch_us(data, 4096, B, "float64", reps=reps)
        target = 100 if B == 1 else 40
        rows.append([B, f"{f(us)} ({alive[0]:,}+{alive[1]:,} w, {h} u)", f(d), f"{d / us:,.0f}x",
                     f(tt), f"{tt / us:,.0f}x" if tt else "-", f">= {target}x"])
    table("3. Sparse phase vs dense training, 784-4096-10, keep:3140 on the input layer, us/sample",
          ["batch", "sparse", "dense numpy", "speed-up", "dense torch f64", "speed-up", "target"], rows)


# -- 4. break-even density ------------------------------------------------------------------
def break_even(data, width, reps):
    dens = [1.0, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 0.02, 0.01]
    rows, found = [], {}
    for B in (1, 64):
        d = dense_us(data, width, B, reps=reps)
        prev = None
        for p in dens:
            steps = int(min(3000, max(40, 60 / p))) if B == 1 else int(min(60, max(4, 2 / p)))
            us, alive, h = sparse_us(data, width, B, prune=f"fraction:{1 - p:g}", layers="all", reps=reps,
                                     steps=steps, kernels=True)
            picked, _, _ = sparse_us(data, width, B, prune=f"fraction:{1 - p:g}", layers="all", reps=reps,
                                     steps=steps)
            rows.append([B, f"{p:g}", f(us), f(d), f"{d / us:.2f}", f(picked), f"{d / picked:.2f}"])
            if us < d and B not in found:
                if prev is None:
                    found[B] = f">= {p:g} (sparse faster even with every weight kept)"
                else:  # log-linear interpolation of the crossing
                    (p0, r0), (p1, r1) = prev, (p, np.log(d / us))
                    found[B] = f"{np.exp(np.log(p0) + (0 - r0) * (np.log(p1) - np.log(p0)) / (r1 - r0)):.3f}"
            prev = (p, np.log(d / us))
        found.setdefault(B, f"< {dens[-1]:g}")
    table(f"4. Break-even density, 784-{width}-10, both layers pruned by magnitude, us/sample: the sparse kernels, "
          f"and the engine the trainer picks (masked dense above explorer.engine.masked.BREAK_EVEN)",
          ["batch", "density", "sparse kernels", "dense numpy", "dense / sparse", "trainer's engine",
           "dense / trainer's"], rows)
    print(f"\nbreak-even density of the sparse kernels against dense training (sparse faster below): "
          f"batch 1: {found[1]}, batch 64: {found[64]}")


# -- 5. dense phase vs torch ----------------------------------------------------------------
def dense_vs_torch(data, reps):
    rows = []
    for w in (128, 1024):
        for B in (1, 64):
            d = dense_us(data, w, B, reps=reps)
            t64 = torch_us(data, w, B, "float64", reps=reps)
            t32 = torch_us(data, w, B, "float32", reps=reps)
            rows.append([f"784-{w}-10", B, f(d), f(t64), f"{t64 / d:.2f}" if t64 else "-", f(t32)])
    table("5. Dense phase (burn-in), us/sample: ours (numpy + BLAS, float64) vs PyTorch CPU",
          ["net", "batch", "ours f64", "torch f64", "torch f64 / ours (>= 1 is met)", "torch f32 (info)"], rows)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer widths and repeats (a few minutes)")
    p.add_argument("--only", default="1,2,3,4,5", help="comma-separated tables to run, e.g. --only 5 (default: all)")
    p.add_argument("--torch-worker", nargs=6, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.torch_worker:
        w, B, dt, steps, reps, threads = a.torch_worker
        return _torch_worker(int(w), int(B), dt, int(steps), int(reps), int(threads))
    for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if var in os.environ:
            print(f"warning: {var} is set; it slows numpy's OpenBLAS (unset it for this command)")
    reps = 2 if a.quick else 5
    widths = [128, 1024, 8192] if a.quick else [128, 256, 512, 1024, 2048, 4096, 8192]
    blas = [(i.get("internal_api"), i.get("version"), i.get("architecture"), i.get("num_threads"))
            for i in threadpool_info() if i.get("user_api") == "blas"]
    print(f"# bench_core: {cpu_name()}, {os.cpu_count()} cores, numpy {np.__version__}, BLAS {blas}, "
          f"numba {'yes' if K.HAVE_NUMBA else 'no'}, torch {'yes' if HAVE_TORCH else 'absent'}, "
          f"load average {os.getloadavg()}")
    only = {int(t) for t in a.only.split(",") if t.strip()}
    data = load("fashion-mnist", verbose=False)
    r = 3 if not a.quick else 1
    if 1 in only:
        headline(data, reps)
    if 2 in only:
        width_scan(data, widths, r)
    if 3 in only:
        versus_dense(data, r)
    if 4 in only:
        break_even(data, 1024, r)
    if 5 in only:
        dense_vs_torch(data, r)
    print(f"\nload average at the end (1, 5, 15 min): {os.getloadavg()}")


if __name__ == "__main__":
    main()
