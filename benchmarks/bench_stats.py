"""Speed of explorer.stats: the live statistics per layer, and the thorough tail fit.

    python benchmarks/bench_stats.py [--dtype float32] [--repeats 9]

Prints medians over repeats. Targets (issue 4): all live statistics (log_histogram +
live_summary + feedback) of one 785x128 layer < 20 ms, of a 785x4096 layer < 200 ms;
tail_fit on 100k values < 2 s (after the one-off `import powerlaw`, timed separately).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from explorer import stats as S


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up (first-touch allocations, lazy imports)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def layer(shape, dtype, seed=0):
    """Heavy-tailed weights with gradients that grow with |w|, like a burnt-in input layer."""
    rng = np.random.default_rng(seed)
    w = (rng.standard_t(3, size=shape) * 1e-3).astype(dtype)
    g = (w * rng.lognormal(0, 1, size=shape)).astype(dtype)
    return w, g


def live_rows(shape, dtype, target, repeats):
    w, g = layer(shape, dtype)
    r = max(3, 5 * repeats if w.size < 1e6 else repeats)  # small layers are cheap: more repeats, less noise
    everything = lambda: (S.log_histogram(w), S.log_histogram(g), S.live_summary(w), S.feedback(w, g))
    name = f"{shape[0]}x{shape[1]} {dtype.name}"
    return [(f"{name}: log_histogram(w)", median_ms(lambda: S.log_histogram(w), r), None),
            (f"{name}: live_summary(w)", median_ms(lambda: S.live_summary(w), r), None),
            (f"{name}: feedback(w, g)", median_ms(lambda: S.feedback(w, g), r), None),
            (f"{name}: all live (hist w+g, summary, feedback)", median_ms(everything, r), target)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    ap.add_argument("--repeats", type=int, default=9)
    args = ap.parse_args(argv)
    dtype = np.dtype(args.dtype)

    rows = []
    for shape, target in (((785, 128), 20.0), ((785, 4096), 200.0)):
        rows += live_rows(shape, dtype, target, args.repeats)

    t0 = time.perf_counter()
    import powerlaw  # noqa: F401  (the one-off import that tail_fit pays on its first call)

    rows.append(("import powerlaw (once per process)", 1e3 * (time.perf_counter() - t0), None))
    for alpha in (2.5, 3.5):
        x = np.random.default_rng(1).pareto(alpha - 1, 100_000) + 1
        fit = S.tail_fit(x)
        t = median_ms(lambda x=x: S.tail_fit(x), max(3, args.repeats // 3))
        rows.append((f"tail_fit(100k Pareto, alpha={alpha}) -> {fit.alpha:.3f}", t, 2000.0))
    w, _ = layer((785, 128), dtype)
    t = median_ms(lambda: S.tail_fit(w), max(3, args.repeats // 3))
    rows.append(("tail_fit(785x128 t3 layer)", t, 2000.0))

    width = max(len(r[0]) for r in rows)
    print(f"{'statistic':<{width}}  {'median ms':>10}  {'target ms':>9}  ok")
    for name, ms, target in rows:
        ok = "" if target is None else ("yes" if ms < target else "NO")
        tgt = "" if target is None else f"{target:.0f}"
        print(f"{name:<{width}}  {ms:>10.1f}  {tgt:>9}  {ok}")


if __name__ == "__main__":
    main()
