"""The dashboard's costs and latencies (issue 14), side by side in one run.

    python benchmarks/bench_views.py [--repeats 5] [--dataset fashion-mnist] [--browser]

1. Views' cost in fast pace: the post's default run (784-128-10, burn-in 200, halving:5,
   30,000 steps, an evaluation every 2,000 steps as the dashboard runs it) with every view on one
   Board vs the same run with no views, alternating, medians; then a 10x longer run (steady
   state). Targets: views <= 25% of the run's time on the default run, <= 10% in steady state,
   while every view redraws at least 5 times a second (frames counted over the run's wall time).
2. The prune slider's preview in Python (target < 150 ms; the browser adds its render).
3. With --browser: in Voila and Debian's Chromium, the time from a key press on the prune slider
   (live re-run, fast pace) to the new final accuracy in the status line, for the post's headline
   config (target <= 1.5 s), median of several presses.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

from explorer import RunConfig, Trainer
from explorer.data import load
from explorer.views import Board, all_views


def timed_runs(data, cfg, repeats):
    """Median seconds of plain and viewed runs (alternated), frames/s of the viewed ones, and the
    Board's own sampling and drawing time."""
    plain, viewed, fps, spent = [], [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        Trainer(cfg).fit(data)
        plain.append(time.perf_counter() - t0)
        board = Board(list(all_views().values()))
        t = Trainer(cfg, callbacks=[board]).setup(data)
        board.attach(t)
        t0 = time.perf_counter()
        t.run()
        dt = time.perf_counter() - t0
        viewed.append(dt)
        fps.append(board.frames / dt)
        spent.append(dict(board.seconds_spent))
    return statistics.median(plain), statistics.median(viewed), statistics.median(fps), spent[-1]


def views_cost(data, dataset, repeats):
    base = RunConfig(dataset=dataset, eval_every=2000)
    t = Trainer(base.replace(steps=2000), callbacks=[Board(list(all_views().values()))]).fit(data)  # warm up
    del t
    print("## 1. Views' cost in fast pace (one Board, every view)\n")
    print("| run | no views s | views s | cost (added / no views) | share of the viewed run | frames/s | sample s | "
          "draw s |")
    print("|---|---|---|---|---|---|---|---|")
    for label, steps, reps in (("default (30,200 steps)", base.steps, repeats),
                               ("10x longer (300,200 steps)", 10 * base.steps, max(1, repeats // 2))):
        cfg = base.replace(steps=steps, eval_every=base.eval_every * steps // base.steps)
        p, v, fps, spent = timed_runs(data, cfg, reps)
        print(f"| {label} | {p:.3f} | {v:.3f} | {100 * (v / p - 1):.1f}% | {100 * (1 - p / v):.1f}% | {fps:.1f} | "
              f"{spent['sample']:.3f} | {spent['draw']:.3f} |")


def preview_latency(dataset):
    from explorer.app import Explorer

    app = Explorer(dataset=dataset, live=False)
    app.run_sync(steps=150)  # mid burn-in: the cut is still to come
    times = []
    for k in [1, 2, 3, 4, 5, 6, 7, 6, 5, 4, 3, 2] * 2:
        t0 = time.perf_counter()
        app.controls["prune"].slider.value = k
        times.append(time.perf_counter() - t0)
    print(f"\n## 2. Prune-slider preview: median {1e3 * statistics.median(times):.1f} ms, "
          f"max {1e3 * max(times):.1f} ms "
          f"over {len(times)} moves (785x128 input layer; target < 150 ms)")


def browser_latency(dataset, presses):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from browser_util import STATUS, browser_page, voila, wait_for_dashboard, write_notebook

    cell = f'from explorer import Explorer\nExplorer(dataset="{dataset}", live=True)\n'
    status = STATUS
    tmp = Path("/tmp/explorer-bench-views")
    tmp.mkdir(exist_ok=True)
    nb = write_notebook(tmp / "dashboard.ipynb", cell)
    times = []
    with voila(nb) as url, browser_page(url, {"width": 1600, "height": 1000}) as (page, errors):
        wait_for_dashboard(page)
        page.wait_for_function(f"({status})().includes('press Run')", timeout=30_000)
        handle = page.locator(".widget-slider", has_text="halvings").locator(".noUi-handle")
        handle.focus()
        handle.press("ArrowLeft")  # a first live run (5 -> 4 halvings) warms the kernel's caches
        page.wait_for_function(f"({status})().includes(' done')", timeout=60_000)
        for key in ["ArrowRight"] * presses + ["ArrowLeft"] * presses:  # new settings, then back to known ones
            before = page.evaluate(status)
            handle.focus()
            t0 = time.perf_counter()
            handle.press(key)
            page.wait_for_function(f"({status})().includes(' done') && ({status})() !== {before!r}",
                                   timeout=60_000, polling=20)
            times.append(time.perf_counter() - t0)
    new, known = times[:presses], times[presses:]
    print(f"\n## 3. Control change -> final accuracy on screen (Voila, live, fast pace, {dataset} headline run, "
          f"halvings 5..{5 + presses}): a setting not run yet: median {statistics.median(new):.2f} s "
          f"(min {min(new):.2f}, max {max(new):.2f}); back to a setting in the history: median "
          f"{statistics.median(known):.2f} s (target <= 1.5 s; the 0.3 s debounce included)")
    if errors:
        print(f"page errors: {errors}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--dataset", default="fashion-mnist")
    ap.add_argument("--browser", action="store_true", help="also measure in Voila + Chromium")
    ap.add_argument("--presses", type=int, default=5)
    a = ap.parse_args()
    data = load(a.dataset, verbose=False)
    views_cost(data, a.dataset, a.repeats)
    preview_latency(a.dataset)
    if a.browser:
        browser_latency(a.dataset, a.presses)


if __name__ == "__main__":
    main()
