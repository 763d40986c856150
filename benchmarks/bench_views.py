"""Training throughput with all six views attached vs none, side by side in one process.

    python benchmarks/bench_views.py [--repeats 5] [--dataset fashion-mnist]

The post's default run (784-128-10, burn-in 200, halving:5, 30,000 steps, batch 1) with
evaluations every 1,500 steps (as the dashboard runs it), alternating plain and viewed runs;
prints medians, the ratio (the issue asks for < 10% cost) and how often views redrew.
"""

import argparse
import statistics
import time

from explorer import RunConfig, Trainer
from explorer.data import load
from explorer.views import all_views


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--eval-every", type=int, default=1500)
    a = ap.parse_args()
    data = load(a.dataset, verbose=False)
    cfg = RunConfig(dataset=a.dataset, eval_every=a.eval_every)
    Trainer(cfg.replace(steps=2000)).fit(data)  # warm up (JIT, caches)
    plain, viewed, draws = [], [], None
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        Trainer(cfg).fit(data)
        plain.append(time.perf_counter() - t0)
        views = all_views()
        t0 = time.perf_counter()
        Trainer(cfg, callbacks=list(views.values())).fit(data)
        viewed.append(time.perf_counter() - t0)
        draws = {k: v.draws for k, v in views.items()}
    p, v = statistics.median(plain), statistics.median(viewed)
    print(f"{a.dataset}, {cfg.burn_in + cfg.steps} steps, eval every {a.eval_every}: median of {a.repeats}")
    print(f"  no views  {p:.3f} s   ({(cfg.burn_in + cfg.steps) / p:,.0f} steps/s)")
    print(f"  6 views   {v:.3f} s   ({(cfg.burn_in + cfg.steps) / v:,.0f} steps/s)")
    print(f"  throughput ratio views/none = {p / v:.3f}  (cost {100 * (v / p - 1):.1f}%)")
    print(f"  redraws in the last viewed run: {draws} (~{max(draws.values()) / v:.1f}/s at most)")


if __name__ == "__main__":
    main()
