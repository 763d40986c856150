"""Loading full Fashion-MNIST: the first load (decode the .gz files) vs the second (the
decoded-array cache), each in a fresh process with a fresh cache folder, medians of repeats.

    python benchmarks/bench_data.py [--repeats 3] [--dataset fashion-mnist]

Issue 3: the second load takes well under a second.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

LOAD = ("import time; from explorer.data import load; t0 = time.perf_counter(); "
        "d = load({name!r}, verbose=False); print(time.perf_counter() - t0, d.n_train)")


def timed_load(name: str, cache: str) -> float:
    env = {**os.environ, "EXPLORER_CACHE": cache}
    out = subprocess.run([sys.executable, "-c", LOAD.format(name=name)], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dataset", default="fashion-mnist")
    a = ap.parse_args()
    first, second = [], []
    for _ in range(a.repeats):
        with tempfile.TemporaryDirectory() as cache:
            first.append(timed_load(a.dataset, cache))
            second.append(timed_load(a.dataset, cache))
    f, s = statistics.median(first), statistics.median(second)
    print(f"{a.dataset}, full, fresh process each (load() alone), median of {a.repeats}: "
          f"first load {f:.2f} s, cached load {s:.2f} s ({f / s:.1f}x; target: well under 1 s)")


if __name__ == "__main__":
    main()
