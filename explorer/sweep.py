"""Sweeps: a grid of RunConfigs run on any concurrent.futures executor, resumable from disk.

    from explorer import RunConfig, sweep
    records = sweep([RunConfig(hidden=(h,), seed=s) for h in (64, 128) for s in range(3)], out="runs/")

What it owns:
  * `sweep(configs, executor=None, out=None, ...)`: run each config once (duplicates share one
    run) on an executor -- a process pool by default, or anything with `submit`, such as
    `dask.distributed.Client(...).get_executor()`. There is no scheduler here: the executor is it.
  * `run_one(config, run_id)`: what a worker runs. It loads the data set itself (cached per
    process, keyed by dataset, data_dir, split and n_train/n_test), trains, and returns the
    results dict of `explorer train --json` plus `run_id`, `status` and `error`. An exception
    becomes a record with status "failed" and a one-line error; it never stops the others.
  * `DIR/runs.jsonl`: one JSON line per finished run, appended, flushed and fsynced by the
    parent process only, as each run finishes. A run is identified by `run_id`, a hash of its
    canonical config JSON (`json.dumps(config, sort_keys=True)`), so the same command run again
    skips finished runs and runs the rest. A cut-off last line (a write interrupted by a kill)
    or any other unreadable line is dropped -- the file is rewritten atomically without it --
    and that run is done again. Status "failed" runs ARE retried on the next call (their old
    line is dropped first, so the file keeps one line per run): a failure is often the
    machine's fault (a killed worker, a missing data folder fixed since), and a deterministic
    failure costs little to repeat. Pass `retry_failed=False` to keep them. Status "diverged"
    runs are results (same config, same divergence) and are kept.
  * The `explorer sweep` command (grid from options and/or a JSON file, summary table with 95%
    intervals over seeds, `summary.csv`, heatmaps) and the wiring of `explorer reproduce`
    (which lives in reproduce.py and is built on `sweep`). The grid.json format is `GRID_HELP`
    below (also printed by `explorer sweep --help`).

The data set split of the post (`load(..., heldout="post")`) is not a RunConfig field; a sweep
asks for it with `extra={"heldout": "post"}` in the config (`--heldout post` on the command
line), so it is part of the run's identity and of its record.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import itertools
import json
import math
import os
import socket
import sys
import threading
import time
import warnings
from collections import OrderedDict
from concurrent.futures import as_completed
from pathlib import Path

from .config import RunConfig
from .errors import ConfigError, ExplorerError
from .export import dumps, jsonable, write_figures, write_text_atomic

RUNS_FILE = "runs.jsonl"
_INT_FIELDS = ("burn_in", "steps", "batch_size", "seed", "eval_every")


# -- identity ---------------------------------------------------------------------------------
def canonical(config) -> RunConfig:
    """A validated RunConfig whose JSON is canonical (plain types, floats as floats)."""
    if isinstance(config, dict):
        config = RunConfig.from_dict(config)
    if not isinstance(config, RunConfig):
        raise ConfigError(f"a sweep takes RunConfigs or dicts, got {type(config).__name__}")
    d = jsonable(config.validate().to_dict())
    d["lr"], d["init_scale"] = float(d["lr"]), float(d["init_scale"])
    for k in _INT_FIELDS:
        d[k] = int(d[k])
    return RunConfig.from_dict(d).validate()


def run_id(config) -> str:
    """16 hex digits of SHA-256 over the config's canonical JSON: the run's identity on disk."""
    d = config.to_dict() if isinstance(config, RunConfig) else config
    text = json.dumps(jsonable(d), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def one_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0][:300]}" if msg else type(exc).__name__


# -- the worker side --------------------------------------------------------------------------
_DATA: OrderedDict = OrderedDict()  # per process: (dataset, data_dir, heldout, n_train, n_test) -> Dataset
_DATA_LOCK = threading.Lock()
_DATA_KEEP = 2


def _dataset(cfg: RunConfig):
    from .data import load

    key = (cfg.dataset, cfg.data_dir, cfg.extra.get("heldout"), cfg.n_train, cfg.n_test)
    with _DATA_LOCK:  # threads of one Dask worker share the cache
        if key not in _DATA:
            _DATA[key] = load(cfg.dataset, cfg.data_dir, n_train=cfg.n_train, n_test=cfg.n_test,
                              heldout=cfg.extra.get("heldout"), verbose=False)
            while len(_DATA) > _DATA_KEEP:
                _DATA.popitem(last=False)
        _DATA.move_to_end(key)
        return _DATA[key]


def run_one(config: dict, rid: str | None = None) -> dict:
    """Train one config (a dict) and return its record; never raises for a bad run."""
    from .trainer import Trainer

    t0, c0 = time.perf_counter(), time.process_time()
    rid = rid or run_id(config)
    try:
        cfg = RunConfig.from_dict(config).validate()
        with warnings.catch_warnings():  # a divergence is reported in the record instead
            warnings.simplefilter("ignore", RuntimeWarning)
            ds = _dataset(cfg)
            r = Trainer(cfg).fit(ds).results_
        head = {"run_id": rid, "status": "diverged" if r.get("diverged") else "ok", "error": r.get("diverged")}
        rec = {**head, **jsonable(r)}
    except Exception as e:  # recorded, and the sweep goes on
        rec = {"run_id": rid, "status": "failed", "error": one_line(e), "config": config}
    rec["worker"] = {"host": socket.gethostname(), "pid": os.getpid(),  # wall > cpu: the core was shared
                     "wall_seconds": round(time.perf_counter() - t0, 4),
                     "cpu_seconds": round(time.process_time() - c0, 4)}
    return rec


def _init_worker(blas_threads: int) -> None:
    try:  # N workers x all cores of BLAS each would oversubscribe the machine
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=blas_threads)
    except Exception:
        pass


def process_pool(workers: int | None = None, context: str | None = None):
    """A ProcessPoolExecutor with `workers` processes (default: all cores).

    Children start by 'forkserver' on POSIX (a clean single-threaded server forks them, so the
    parent's threads -- tqdm's monitor, numba's or BLAS's pools -- are never forked), 'spawn'
    elsewhere; `context` overrides ('fork', 'spawn', 'forkserver').
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    workers = workers or os.cpu_count() or 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers={workers!r}: expected a whole number >= 1")
    if context is None:
        context = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(context)
    if context == "forkserver":
        ctx.set_forkserver_preload(["explorer.sweep", "explorer.trainer", "explorer.data"])
    blas = max(1, (os.cpu_count() or 1) // workers)
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(blas,))


# -- runs.jsonl -------------------------------------------------------------------------------
class RunLog:
    """`DIR/runs.jsonl`: read (dropping cut-off or unreadable lines), rewrite atomically, append."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / RUNS_FILE
        self.dropped: list[str] = []
        self._lock = None

    def __repr__(self):
        return f"RunLog({str(self.path)!r})"

    def lock(self) -> None:
        """Refuse a second sweep writing the same folder at the same time (POSIX flock)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # Windows: no lock
            return
        f = open(self.folder / ".runs.lock", "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.close()
            raise ExplorerError(f"another sweep is writing {str(self.folder)!r}; wait for it or use another --out") \
                from None
        self._lock = f

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def read(self) -> dict:
        """run_id -> record, in file order; unreadable lines are listed in `self.dropped`."""
        self.dropped = []
        if not self.path.exists():
            return {}
        data = self.path.read_bytes()
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline, as every complete write does
        if tail.strip():
            self.dropped.append(f"cut-off last line ({len(tail)} bytes, no newline)")
        out: dict = {}
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                ok = isinstance(rec, dict) and isinstance(rec.get("run_id"), str) and "status" in rec
            except ValueError:
                ok = False
            if not ok:
                self.dropped.append(f"line {n} is not a run record")
                continue
            old = out.get(rec["run_id"])
            if old is None or old.get("status") == "failed":  # one line per run; a result beats a failure
                out[rec["run_id"]] = rec
        return out

    def rewrite(self, records) -> None:
        write_text_atomic(self.path, "".join(dumps(r, indent=None) + "\n" for r in records))

    def append(self, record: dict) -> None:
        line = (dumps(record, indent=None) + "\n").encode("utf-8")
        with open(self.path, "ab") as f:  # one write per line; flushed and on disk before the next
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


# -- the parent side --------------------------------------------------------------------------
def _cost(cfg: RunConfig) -> float:
    """Rough relative cost, to start the longest runs first (less idle time at the end)."""
    width = sum(cfg.hidden) + 10
    return (cfg.burn_in + cfg.steps) * cfg.batch_size * width


def _resolve_auto(cfgs: list[RunConfig], verbose: bool) -> list[RunConfig]:
    """Pick the data set for 'auto' once, in the parent, so every worker trains on the same one."""
    from .data import load

    chosen: dict = {}
    out = []
    for c in cfgs:
        if c.dataset == "auto":
            if c.data_dir not in chosen:
                chosen[c.data_dir] = load("auto", c.data_dir, n_train=1, n_test=1, verbose=verbose).name
            c = c.replace(dataset=chosen[c.data_dir])
        out.append(c)
    return out


def sweep(configs, executor=None, out=None, progress=True, *, workers: int | None = None,
          retry_failed: bool = True, mp_context: str | None = None) -> list[dict]:
    """Run every config (RunConfig or dict) and return one record per config, in order.

    executor: any `concurrent.futures.Executor`, e.g. `ProcessPoolExecutor(4)` or
        `dask.distributed.Client(address).get_executor()`; it is left running. None: a process
        pool of `workers` processes (default: all cores), shut down at the end.
    out: a folder; records go to `out/runs.jsonl` as runs finish, and runs already there are
        not run again (see the module docstring for resume, cut-off lines and failed runs).
        Lines of runs that are not in `configs` are left in the file and not returned.
    progress: a tqdm bar (stderr, or a widget in Jupyter).

    A record is the results dict of `explorer train --json` (`config` included) plus `run_id`,
    `status` ("ok" | "diverged" | "failed"), `error` (one line or None) and `worker`. Failed
    runs carry only `config` besides those. Identical configs are run once and share a record.
    Ctrl-C cancels the runs not yet started; the finished ones are on disk.
    """
    cfgs = [canonical(c) for c in configs]
    if not cfgs:
        raise ConfigError("the sweep is empty: pass at least one config")
    cfgs = _resolve_auto(cfgs, verbose=bool(progress))
    ids = [run_id(c) for c in cfgs]
    unique = dict(zip(ids, cfgs))

    log = RunLog(out) if out is not None else None
    records: dict = {}
    if log is not None:
        log.lock()
    try:
        if log is not None:
            found = log.read()
            keep = {i: r for i, r in found.items()
                    if not (retry_failed and r.get("status") == "failed" and i in unique)}
            for why in log.dropped:
                print(f"explorer: {log.path}: dropped {why}; that run is done again", file=sys.stderr)
            if log.dropped or len(keep) != len(found):
                log.rewrite(keep.values())
            records = {i: r for i, r in keep.items() if i in unique}
        todo = sorted(((i, c) for i, c in unique.items() if i not in records), key=lambda t: -_cost(t[1]))
        if todo:
            _run_all(todo, records, executor, log, progress, workers, mp_context, n_before=len(records))
    finally:
        if log is not None:
            log.unlock()
    return [records[i] for i in ids]


def _run_all(todo, records, executor, log, progress, workers, mp_context, n_before) -> None:
    from tqdm.auto import tqdm

    own = executor is None
    if own:
        executor = process_pool(min(workers or os.cpu_count() or 1, len(todo)), mp_context)
    futures = {}
    desc = f"sweep ({n_before} done before)" if n_before else "sweep"
    try:
        for rid, cfg in todo:
            futures[executor.submit(run_one, cfg.to_dict(), rid)] = (rid, cfg)
        failed = 0
        with tqdm(total=len(todo), desc=desc, unit="run", disable=not progress, file=sys.stderr) as bar:
            for fut in as_completed(futures):
                rid, cfg = futures[fut]
                try:
                    rec = fut.result()
                except Exception as e:  # the worker died (killed, out of memory) or could not be reached
                    rec = {"run_id": rid, "status": "failed", "error": one_line(e), "config": cfg.to_dict()}
                records[rid] = rec
                if log is not None:
                    log.append(rec)
                failed += rec["status"] == "failed"
                bar.update(1)
                if failed:
                    bar.set_postfix(failed=failed)
    except BaseException:  # Ctrl-C: stop handing out work; what finished is on disk
        for fut in futures:
            fut.cancel()
        if own:
            executor.shutdown(wait=False, cancel_futures=True)
        raise
    if own:
        executor.shutdown()


# -- grids ------------------------------------------------------------------------------------
GRID_HELP = """\
grid.json: a JSON object. "base" (optional) holds fixed settings; every other key is a
RunConfig field whose value is a list of values, one run per value (a scalar is a list of one);
the grid is the cartesian product. "seeds": N is short for "seed": [0, ..., N-1]. Example:
  {"base": {"dataset": "digits", "steps": 2000},
   "burn_in": [0, 200], "prune": ["halving:5", "random:0.97"],
   "hidden": [64, [256, 128]], "seeds": 3}
("hidden": [64, [256, 128]] is two runs: 64 units, and two layers of 256 and 128.)
Precedence: defaults < --config < "base" < grid axes < options given on the command line."""

_FIELDS = [f for f in RunConfig().to_dict()]


def grid(base: RunConfig | None = None, axes: dict | None = None) -> list[RunConfig]:
    """The cartesian product of `axes` ({field: [values]}) over `base`, validated."""
    base = base or RunConfig()
    axes = dict(axes or {})
    for k, vals in axes.items():
        if k not in _FIELDS:
            raise ConfigError(f"unknown grid axis {k!r}; known: {', '.join(_FIELDS)}")
        if not vals:
            raise ConfigError(f"grid axis {k!r} has no values, so the grid would be empty; give at least one")
    keys = list(axes)
    return [canonical(base.replace(**dict(zip(keys, combo)))) for combo in itertools.product(*axes.values())]


def read_grid(path) -> tuple[dict, dict]:
    """(base settings, axes) from a grid.json file; one-line ConfigError on any problem."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--grid {str(p)!r}: no such file; pass a grid.json (see `explorer sweep --help`)")
    try:
        g = json.loads(p.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"--grid {str(p)!r} is not valid JSON ({getattr(e, 'msg', e)}); fix the file") from None
    if not isinstance(g, dict):
        raise ConfigError(f"--grid {str(p)!r}: expected a JSON object of axes, got {type(g).__name__}")
    base = g.pop("base", {})
    if not isinstance(base, dict):
        raise ConfigError(f"--grid {str(p)!r}: \"base\" must be an object of settings")
    axes = {}
    for k, v in g.items():
        if k == "seeds":
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"--grid {str(p)!r}: \"seeds\" must be a whole number >= 1, got {v!r}")
            axes["seed"] = list(range(v))
            continue
        if k not in _FIELDS:
            raise ConfigError(f"--grid {str(p)!r}: unknown key {k!r}; known: base, seeds, {', '.join(_FIELDS)}")
        axes[k] = v if isinstance(v, list) else [v]
        if not axes[k]:
            raise ConfigError(f"--grid {str(p)!r}: {k!r} is an empty list, so the grid would be empty")
    return base, axes


# -- summaries --------------------------------------------------------------------------------
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
    return [k for k in _FIELDS if k != "seed" and len(seen.get(k, ())) > 1]


def run_seconds(r: dict) -> float:
    """A run's compute time: burn-in + prune + sparse training (not data loading or evaluation)."""
    s = r["seconds"]
    return s["burn_in"] + s["prune"] + s["train"]


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
                               ("heatmap_seconds", "seconds (burn-in + prune + train)", run_seconds)):
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


# -- command line -----------------------------------------------------------------------------
def _split(flag: str, field: str, text: str) -> list:
    from .cli import parse_value

    parts = text.split(",")
    if any(not p.strip() for p in parts):
        raise ConfigError(f"{flag} {text!r}: an empty value in the list; write values separated by commas, "
                          f"e.g. {flag} 0,200")
    if field == "prune_layers":  # in a sweep the comma separates runs; layers are joined with +
        parts = [p.replace("+", ",") for p in parts]
    return [parse_value(field, p.strip()) for p in parts]


def configs_from_args(args) -> list[RunConfig]:
    """The grid of `explorer sweep`: --config, --grid, then the options (comma lists are axes)."""
    from .cli import TRAIN_OPTIONS

    base = RunConfig.from_json(args.config) if args.config else RunConfig()
    axes: dict = {}
    if args.grid:
        base_d, axes = read_grid(args.grid)
        base = RunConfig.from_dict({**base.to_dict(), **base_d})
    for flag, field, _ in TRAIN_OPTIONS:
        text = getattr(args, field, None)
        if text is not None:
            axes[field] = _split(flag, field, text)
    if args.seeds is not None:
        if args.seeds < 1:
            raise ConfigError(f"--seeds {args.seeds}: expected a whole number >= 1")
        if args.seed is not None:
            raise ConfigError("--seeds N runs seeds 0..N-1 and --seed picks seeds; pass only one of them")
        axes["seed"] = list(range(args.seeds))
    if args.heldout:
        if args.heldout != "post":
            raise ConfigError(f"--heldout {args.heldout!r}: the only split is 'post' (test on training "
                              f"samples 40,000..40,499)")
        base = base.replace(extra={**base.extra, "heldout": "post"})
    return grid(base, axes)


def executor_from_args(args):
    """(executor or None, a function that closes what we opened)."""
    if getattr(args, "scheduler", None):
        try:
            from dask.distributed import Client
        except ImportError:
            raise ExplorerError("--scheduler needs dask.distributed: pip install 'explorer[dask]'") from None
        try:
            client = Client(args.scheduler, timeout="10s")
        except Exception as e:
            raise ExplorerError(f"--scheduler {args.scheduler!r}: could not connect ({one_line(e)})") from None
        return client.get_executor(pure=False), client.close
    return None, lambda: None


def cmd_sweep(args) -> int:
    cfgs = configs_from_args(args)
    formats = _formats(args.formats)
    out = Path(args.out)
    executor, close = executor_from_args(args)
    print(f"explorer sweep: {len(cfgs)} runs into {out / RUNS_FILE}", file=sys.stderr)
    try:
        records = sweep(cfgs, executor=executor, out=out, progress=not args.no_progress, workers=args.workers)
    finally:
        close()
    axes, rows = summarize(records)
    print(format_table(axes, rows))
    cols = [*axes, "runs", "failed", "accuracy", "accuracy_ci95", "seconds", "seconds_ci95", "weights_alive"]
    write_text_atomic(out / "summary.csv", csv_text(rows, cols))
    paths, note = write_figures(heatmaps(records, axes), out, formats=formats)
    print(f"wrote {out / 'summary.csv'}" + (f" and {len(paths)} figure files" if paths else ""), file=sys.stderr)
    if note:
        print(f"explorer: {note}", file=sys.stderr)
    return _exit_code(records, out)


def _formats(text: str) -> tuple:
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in ("html", "png", "svg", "pdf")]
    if bad or not formats:
        raise ConfigError(f"--formats {text!r}: expected a comma list of html, png, svg, pdf")
    return formats


def _exit_code(records, out) -> int:
    bad = [r for r in records if r["status"] != "ok"]
    if not bad:
        return 0
    kinds = sorted({r["status"] for r in bad})
    print(f"explorer: {len(bad)} of {len(records)} runs {' or '.join(kinds)}; first: {bad[0]['error']} "
          f"(see \"error\" in {Path(out) / RUNS_FILE})", file=sys.stderr)
    return 1


def add_runner_options(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes on this machine (default: all cores)")
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run on a Dask cluster instead, e.g. tcp://10.0.0.5:8786 (needs dask.distributed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--formats", default="html,png,svg", help="figure formats (default: html,png,svg)")


def add_sweep_commands(sub) -> None:
    """Add `explorer sweep` and `explorer reproduce` to the CLI's subparsers."""
    from .cli import add_train_options
    from .reproduce import add_reproduce_command

    s = sub.add_parser(
        "sweep", help="a grid of runs in parallel, resumable, with summary tables and heatmaps",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a grid of configs on all cores or a Dask cluster. Every `explorer train` option is "
                    "accepted; a comma list makes it an axis of the grid (e.g. --burn-in 0,50,200 --hidden "
                    "128,1024; --prune-layers joins layers with +: 0+1,all). One JSON line per finished run "
                    "goes to OUT/runs.jsonl; the same command again skips finished runs and retries failed "
                    "ones. Then a summary (mean and 95% interval over seeds) is printed and written to "
                    "OUT/summary.csv, with heatmaps of accuracy and time over the first two varying axes.",
        epilog=GRID_HELP)  # argparse %-formats descriptions only when they hold %(prog)
    add_train_options(s)
    s.add_argument("--grid", metavar="FILE", help="grid.json with the axes (format below)")
    s.add_argument("--seeds", type=int, default=None, metavar="N", help="run seeds 0..N-1 of every grid point")
    s.add_argument("--heldout", default=None, metavar="post",
                   help="'post': the post's split of MNIST-shaped data (train on samples 0..39,999, "
                        "test on 40,000..40,499)")
    s.add_argument("--out", required=True, metavar="DIR", help="folder for runs.jsonl, summary.csv, heatmaps")
    add_runner_options(s)
    s.set_defaults(func=cmd_sweep)
    add_reproduce_command(sub)
