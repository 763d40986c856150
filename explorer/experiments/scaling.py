"""Time and memory against width, measured: each run in a fresh Python process, its peak
resident memory read from the kernel (VmHWM, memory.peak_rss_mb), its time per sample from the
trainer's own phase clock. What notebook 05 and benchmarks/bench_scale.py plot and print.

    measure(100_000, mode="sparse", prune="erk:1")    -> one record (a dict)
    scaling_table(widths=(128, ..., 1_000_000))        -> records for dense and sparse at each width

A record: hidden, mode (dense | sparse), prune, batch_size, setup_s (set-up: data checks,
initial weights, and for a sparse start the draw, cut and compaction), us_per_sample and
ns_per_weight (of the training phase: dense training, or the sparse phase after the cut),
peak_rss_mb and base_rss_mb (the process after loading numpy, numba and the data, before the
trainer), weights_alive, hidden_alive, engine, dense_layer_mb (the float64 input layer a dense
run holds), and `skipped` (why a run was not made: it would not fit, by memory.estimate, in
`memory_fraction` of the memory available now). A dense run trains from step 0; a sparse run
cuts at step 0 (`burn_in`=0: drawn sparse when wide, start.py) unless `burn_in` says otherwise.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

DEFAULT_WIDTHS = (128, 1024, 8192, 65_536, 1_000_000)


def measure(hidden: int, mode: str = "sparse", prune: str = "erk:1", batch_size: int = 64, burn_in: int = 0,
            prune_layers="all", activation: str = "relu", dataset: str = "fashion-mnist", seconds: float = 2.0,
            reps: int = 1, memory_fraction: float = 0.8, timeout: float = 1800, views: bool = False,
            **settings) -> dict:
    """One run of width `hidden` measured in a fresh process (see the module doc). `seconds`: how
    long the timed steps run at least (split into `reps` chunks, the median reported; 0: the run
    is fitted to the end, `steps` from `settings`, its test accuracy and wall time reported);
    `views`: every dashboard view follows the run on one Board; `settings`: more RunConfig fields."""
    from ..config import RunConfig
    from ..data import io_sizes
    from ..errors import ExplorerError
    from ..training.memory import available_bytes, check, human
    from .pool import SAFE_PATH

    if mode not in ("dense", "sparse"):
        raise ExplorerError(f"mode={mode!r}: expected 'dense' or 'sparse'")
    settings.setdefault("steps", 10**9 if seconds > 0 else 1000)
    cfg = RunConfig(dataset=dataset, hidden=(int(hidden),), burn_in=burn_in if mode == "sparse" else 0,
                    prune=prune if mode == "sparse" else "none", prune_layers=prune_layers, activation=activation,
                    batch_size=batch_size, eval_every=0, **settings).validate()
    n_features, n_classes = io_sizes(cfg.dataset)
    rec = {"hidden": int(hidden), "mode": mode, "prune": cfg.prune, "batch_size": batch_size,
           "dense_layer_mb": 8 * (n_features + 1) * int(hidden) / 2**20}
    avail = available_bytes()
    try:
        est = check(cfg, n_features, n_classes, available=None if avail is None else int(avail * memory_fraction),
                    fresh=True)
        rec["estimate_mb"] = est.total / 2**20
    except ExplorerError as e:
        rec["skipped"] = f"does not fit in {human(avail * memory_fraction)}: {e}"
        return rec
    out = subprocess.run([sys.executable, *SAFE_PATH, "-m", "explorer.experiments.scaling", cfg.to_json(), str(seconds),
                          str(reps), "views" if views else ""], capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        rec["skipped"] = f"failed: {(out.stderr.strip().splitlines() or ['?'])[-1]}"
        return rec
    rec.update(json.loads(out.stdout.strip().splitlines()[-1]))
    return rec


def scaling_table(widths=DEFAULT_WIDTHS, modes=("dense", "sparse"), progress: bool = True, **kwargs) -> list[dict]:
    """`measure` at every width and mode, side by side (dense before sparse at each width)."""
    rows = []
    for h in widths:
        for mode in modes:
            r = measure(h, mode=mode, **kwargs)
            rows.append(r)
            if progress:
                print(_line(r), flush=True)
    return rows


def _line(r: dict) -> str:
    if "skipped" in r:
        return f"{r['hidden']:>9,} {r['mode']:<6} skipped: {r['skipped'][:100]}"
    return (f"{r['hidden']:>9,} {r['mode']:<6} {r['us_per_sample']:>10.2f} us/sample  {r['peak_rss_mb']:>7.0f} MB peak "
            f"(dense input layer {r['dense_layer_mb']:,.0f} MB)  {sum(r['weights_alive']):,} weights  [{r['engine']}]")


def _worker(config_json: str, seconds: float, reps: int = 1, views: bool = False) -> dict:
    """The measured run, in this (fresh) process: set up, make the cut, warm up, then `reps` times
    time chunks of steps until `seconds` have passed (at least 2 steps); the median is
    reported. seconds <= 0: fit() to the end instead (the run's own steps and evaluation; run_s,
    its wall time from set-up to results). views: every view on one Board, `frames` drawn."""
    import numpy as np  # noqa: F401 -- loaded before the baseline is read

    from ..config import RunConfig
    from ..data import load
    from ..engine import kernels  # noqa: F401
    from ..training.memory import peak_rss_mb
    from ..training.trainer import Trainer

    cfg = RunConfig.from_json(config_json)
    data = load(cfg.dataset, cfg.data_dir, verbose=False)
    base = peak_rss_mb()
    board = None
    if views:
        from ..views import Board, all_views

        board = Board(list(all_views().values()))
    t0 = time.perf_counter()
    t = Trainer(cfg, callbacks=[board] if board else []).setup(data)
    if board is not None:
        board.attach(t)
    setup = time.perf_counter() - t0
    out = {"setup_s": setup}
    if seconds <= 0:  # the whole run
        t.run()
        r = t.results_
        out.update(test_accuracy=r["test_accuracy"], seconds=r["seconds"], steps_timed=cfg.steps,
                   run_s=time.perf_counter() - t0, frames=board.frames if board else 0)
        us = r["seconds"]["train"] / max(cfg.steps, 1) / cfg.batch_size * 1e6
    else:
        t.run(steps=cfg.burn_in)
        t.run(steps=1)  # the cut (if any) and a first step
        times, n = [], 1
        for _ in range(reps):
            done, spent = 0, 0.0
            while spent < seconds / reps or done < 2:
                s0 = t.state.seconds["train"]
                t.run(steps=n)
                spent += t.state.seconds["train"] - s0
                done += n
                n = max(1, min(2 * n, int(n * seconds / reps / max(spent, 1e-6))))
            times.append(spent / done / cfg.batch_size * 1e6)
        us = sorted(times)[len(times) // 2]
        out.update(steps_timed=done, us_reps=times)
    alive = [lv.n_alive for lv in t.state.layers]
    out.update(cut_s=t.state.seconds["prune"], us_per_sample=us, ns_per_weight=us * 1e3 / max(sum(alive), 1),
               peak_rss_mb=peak_rss_mb(), base_rss_mb=base, weights_alive=alive,
               hidden_alive=list(t.engine.hidden_alive), engine=t.engine.name)
    return out


if __name__ == "__main__":
    a = sys.argv[1:]
    print(json.dumps(_worker(a[0], float(a[1]), int(a[2]) if len(a) > 2 else 1, len(a) > 3 and a[3] == "views")))
