"""Summaries of sweep records: tables with 95% intervals over seeds, CSV, heatmaps, and the
one line that says which runs failed. Pure functions of the records `explorer.sweep` returns
(plotly is imported only by `heatmaps`).
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ..config import SETTINGS


# -- tables --------------------------------------------------------------------------------
def show(field: str, value) -> str:
    """An axis value as a short label: hidden [256, 128] -> 256x128, prune_layers [0, 1] -> 0+1."""
    if field == "hidden" and isinstance(value, list):
        return "x".join(map(str, value))
    if isinstance(value, list):
        return "+".join(map(str, value))
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return str(value)


def varying_axes(records) -> list[str]:
    """Config fields (other than seed) whose values differ between records, in field order."""
    seen: dict = {}
    for r in records:
        for k, v in r["config"].items():
            seen.setdefault(k, set()).add(json.dumps(v, sort_keys=True))
    return [k for k in SETTINGS if k != "seed" and len(seen.get(k, ())) > 1]


def run_seconds(r: dict) -> float:
    """A run's compute time: burn-in + cuts + training + rewiring (not data loading or evaluation)."""
    s = r["seconds"]
    return s["burn_in"] + s["prune"] + s["train"] + s.get("rewire", 0.0)


def mean_ci(values) -> tuple[float | None, float | None]:
    """Mean and the half-width of its 95% t-interval (None with fewer than 2 values)."""
    vals = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return None, None
    m = sum(vals) / len(vals)
    if len(vals) < 2:
        return m, None
    from scipy.stats import t

    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))
    return m, float(t.ppf(0.975, len(vals) - 1)) * sd / math.sqrt(len(vals))


def summarize(records, axes: list[str] | None = None) -> tuple[list[str], list[dict]]:
    """(axes, rows): one row per combination of the varying axes, mean and 95% CI over seeds."""
    records = list({r["run_id"]: r for r in records}.values())  # a run listed twice counts once
    axes = varying_axes(records) if axes is None else axes
    groups: dict = {}
    for r in records:
        key = tuple(show(a, r["config"][a]) for a in axes)
        groups.setdefault(key, []).append(r)
    rows = []
    for key, rs in groups.items():
        ok = [r for r in rs if r["status"] != "failed"]
        acc, acc_ci = mean_ci([r["test_accuracy"] for r in ok])
        sec, sec_ci = mean_ci([run_seconds(r) for r in ok])
        alive, _ = mean_ci([sum(r["weights_alive"]) for r in ok])
        rows.append({**dict(zip(axes, key)), "runs": len(rs), "failed": len(rs) - len(ok),
                     "accuracy": acc, "accuracy_ci95": acc_ci, "seconds": sec, "seconds_ci95": sec_ci,
                     "weights_alive": alive})
    return axes, rows


def _fmt(v, digits=4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def format_table(axes, rows) -> str:
    head = [*axes, "runs", "failed", "accuracy", "+-95%", "seconds", "+-95%", "weights alive"]
    body = [[*(row[a] for a in axes), str(row["runs"]), str(row["failed"]), _fmt(row["accuracy"]),
             _fmt(row["accuracy_ci95"]), _fmt(row["seconds"], 3), _fmt(row["seconds_ci95"], 3),
             _fmt(None if row["weights_alive"] is None else round(row["weights_alive"]))] for row in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    return "\n".join("  ".join(str(x).rjust(w) for x, w in zip(line, widths)) for line in [head, *body])


def csv_text(rows, columns) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def heatmaps(records, axes) -> dict:
    """{stem: figure}: accuracy and seconds over the first two varying axes (mean of the rest)."""
    import plotly.graph_objects as go

    if len(axes) < 2:
        return {}
    x_axis, y_axis = axes[:2]
    xs = list(dict.fromkeys(show(x_axis, r["config"][x_axis]) for r in records))
    ys = list(dict.fromkeys(show(y_axis, r["config"][y_axis]) for r in records))
    rest = ", ".join(["seeds", *axes[2:]])
    figs = {}
    for stem, title, value in (("heatmap_accuracy", "test accuracy", lambda r: r["test_accuracy"]),
                               ("heatmap_seconds", "seconds (burn-in + cuts + train + rewiring)", run_seconds)):
        z = []
        for y in ys:
            row = []
            for x in xs:
                vals = [value(r) for r in records if r["status"] != "failed"
                        and show(x_axis, r["config"][x_axis]) == x and show(y_axis, r["config"][y_axis]) == y]
                row.append(mean_ci(vals)[0])
            z.append(row)
        fig = go.Figure(go.Heatmap(z=z, x=xs, y=ys, colorscale="Viridis", texttemplate="%{z:.3g}",
                                   colorbar={"title": title.split(" (")[0]}))
        fig.update_layout(title=f"{title}, mean over {rest}", xaxis_title=x_axis, yaxis_title=y_axis,
                          xaxis_type="category", yaxis_type="category", width=720, height=520)
        figs[stem] = fig
    return figs


def failures(records, out) -> str | None:
    """One line naming how many runs did not end "ok" and the first error, or None."""
    bad = [r for r in records if r["status"] != "ok"]
    if not bad:
        return None
    kinds = sorted({r["status"] for r in bad})
    where = f" (see \"error\" in {Path(out) / 'runs.jsonl'})" if out is not None else ""
    return f"{len(bad)} of {len(records)} runs {' or '.join(kinds)}; first: {bad[0]['error']}{where}"
