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
  * `grid(base, axes)` and `read_grid(path)`: the cartesian product of settings (deduplicated:
    `--hidden 32,32` is one run), and the grid.json format (`GRID_HELP`, also printed by
    `explorer sweep --help`). Summaries and figures of the records are in summary.py; the
    command line (argparse) is cli.py's.

The data set split of the post (`load(..., heldout="post")`) is not a RunConfig field; a sweep
asks for it with `extra={"heldout": "post"}` in the config (`--heldout post` on the command
line), so it is part of the run's identity and of its record.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import socket
import sys
import threading
import time
import warnings
from collections import OrderedDict
from concurrent.futures import as_completed
from pathlib import Path

from .config import SETTINGS, RunConfig
from .errors import ConfigError, ExplorerError
from .files import dumps, jsonable, write_text_atomic

RUNS_FILE = "runs.jsonl"


# -- identity ---------------------------------------------------------------------------------
def canonical(config) -> RunConfig:
    """A validated RunConfig whose JSON is canonical (RunConfig normalises the types; `extra`
    may still hold numpy values, made plain here)."""
    if isinstance(config, dict):
        config = RunConfig.from_dict(config)
    if not isinstance(config, RunConfig):
        raise ConfigError(f"a sweep takes RunConfigs or dicts, got {type(config).__name__}")
    return RunConfig.from_dict(jsonable(config.validate().to_dict()))


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

_AXES = [name for name, spec in SETTINGS.items() if spec.sweep]


def grid(base: RunConfig | None = None, axes: dict | None = None) -> list[RunConfig]:
    """The cartesian product of `axes` ({field: [values]}) over `base`, validated, each distinct
    run once (`--hidden 32,32,032` is one run), in the order of first appearance."""
    base = base or RunConfig()
    axes = dict(axes or {})
    for k, vals in axes.items():
        if k not in _AXES:
            why = "is not a setting" if k not in SETTINGS else "cannot vary in a sweep"
            raise ConfigError(f"grid axis {k!r} {why}; axes: {', '.join(_AXES)}")
        if not vals:
            raise ConfigError(f"grid axis {k!r} has no values, so the grid would be empty; give at least one")
    keys = list(axes)
    runs = (canonical(base.replace(**dict(zip(keys, combo)))) for combo in itertools.product(*axes.values()))
    return list({run_id(c): c for c in runs}.values())


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
        if k not in _AXES:
            raise ConfigError(f"--grid {str(p)!r}: unknown key {k!r}; known: base, seeds, {', '.join(_AXES)}")
        axes[k] = v if isinstance(v, list) else [v]
        if not axes[k]:
            raise ConfigError(f"--grid {str(p)!r}: {k!r} is an empty list, so the grid would be empty")
    return base, axes


def dask_executor(address: str):
    """(an executor on the Dask scheduler at `address`, a function that closes the client)."""
    try:
        from dask.distributed import Client
    except ImportError:
        raise ExplorerError("--scheduler needs dask.distributed: pip install 'explorer[dask]'") from None
    try:
        client = Client(address, timeout="10s")
    except Exception as e:
        raise ExplorerError(f"--scheduler {address!r}: could not connect ({one_line(e)})") from None
    return client.get_executor(pure=False), client.close
