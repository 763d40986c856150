"""Sweeps: a grid of RunConfigs run on this machine's cores or any concurrent.futures
executor, resumable from disk, stoppable at any time.

    from explorer import RunConfig, sweep
    records = sweep([RunConfig(hidden=(h,), seed=s) for h in (64, 128) for s in range(3)], out="runs/")

What it owns:
  * `sweep(configs, executor=None, out=None, ...)`: run each config once (duplicates share one
    run) on a pool of worker processes (pool.WorkerPool) or on an executor -- anything with
    `submit`, such as `dask.distributed.Client(...).get_executor()`. Before any run it checks
    that `out` can be written and that every distinct data set the runs need loads (in this
    process; on the executor when there is one), so those problems are one-line errors, not a
    column of failed runs.
  * `run_one(config, run_id)`: what a worker runs. It loads the data set itself (cached per
    process, keyed by dataset, its load() settings, split and n_train/n_test), trains, and returns the
    results dict of `explorer train --json` plus `run_id`, `status` and `error`. An exception
    becomes a record with status "failed" and a one-line error; it never stops the others.
  * Stopping. Ctrl-C (SIGINT) stops handing out runs, cancels the queued ones, gives the
    running ones `pool.GRACE` (2 s) to finish -- then stops them -- records every finished run
    and raises `SweepInterrupted` (a KeyboardInterrupt) saying how many are on disk; a second
    Ctrl-C stops at once. A run record that cannot be written (a full disk) stops the sweep the
    same way, without the grace, as `SweepStopped` (a one-line ExplorerError). Workers die with
    the process that started them, however it ends (see pool.py).
  * `DIR/runs.jsonl` (runlog.py): one JSON line per finished run, appended by this process
    only, as each run finishes. A run is identified by `run_id`, a hash of its canonical config
    JSON (`json.dumps(config, sort_keys=True)`), so the same command run again skips finished
    runs and runs the rest. A cut-off line or any line that is not a complete record is
    dropped -- the file is rewritten atomically without it -- and that run is done again.
    Status "failed" runs ARE retried on the next call (their old line is dropped first, so the
    file keeps one line per run): a failure is often the machine's fault (a killed worker), and
    a deterministic failure costs little to repeat. Pass `retry_failed=False` to keep them.
    Status "diverged" runs are results (same config, same divergence) and are kept.
  * `grid(base, axes)` and `read_grid(path)`: the cartesian product of settings (deduplicated:
    `--hidden 32,32` is one run), and the grid.json format (`GRID_HELP`, also printed by
    `explorer sweep --help`). Summaries and figures of the records are in summary.py; the
    command line (argparse) is cli.py's.

The data set split of the post (`load(..., heldout="post")`) is not a RunConfig field; a sweep
asks for it with `extra={"heldout": "post"}` in the config (`--heldout post` on the command
line), so it is part of the run's identity and of its record.

A data file (`dataset="wine.csv"`) is hashed once in this process before any run and its SHA-256
recorded in every config (`dataset_sha256`), so the runs' identities change when the file does
(a resumed sweep does not mix two versions of it) and every worker refuses a file that differs
from the one hashed. Workers on other machines (Dask) read the same path: a shared folder.
"""

from __future__ import annotations

import hashlib
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
from pathlib import Path

from ..config import MAX_RUNS, SETTINGS, RunConfig, read_json_file, shown
from ..errors import ConfigError, ExplorerError, one_line
from ..files import jsonable
from .pool import GRACE, ExecutorTasks, Interrupts, WorkerPool, dask_executor
from .runlog import RUNS_FILE, RunLog

__all__ = ["GRID_HELP", "RUNS_FILE", "RunLog", "SweepInterrupted", "SweepStopped", "canonical", "check_data",
           "dask_executor", "data_key", "data_problem", "grid", "process_pool", "read_grid", "run_id", "run_one",
           "sweep"]


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


# -- the worker side --------------------------------------------------------------------------
_DATA: OrderedDict = OrderedDict()  # per process: data_key(cfg) -> Dataset
_DATA_LOCK = threading.Lock()
_DATA_KEEP = 2


def data_key(cfg: RunConfig) -> tuple:
    """What the data of a run depend on: (dataset, heldout, n_train, n_test, load()'s other keywords)."""
    return (cfg.dataset, cfg.extra.get("heldout"), cfg.n_train, cfg.n_test, tuple(sorted(cfg.data_args().items())))


def _dataset(cfg: RunConfig):
    from ..data import load

    key = data_key(cfg)
    with _DATA_LOCK:  # threads of one Dask worker share the cache
        if key not in _DATA:
            _DATA[key] = load(cfg.dataset, n_train=cfg.n_train, n_test=cfg.n_test, heldout=cfg.extra.get("heldout"),
                              verbose=False, **cfg.data_args())
            while len(_DATA) > _DATA_KEEP:
                _DATA.popitem(last=False)
        _DATA.move_to_end(key)
        return _DATA[key]


def run_one(config: dict, rid: str | None = None) -> dict:
    """Train one config (a dict) and return its record; never raises for a bad run."""
    from ..training.trainer import Trainer

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


def _check_workers(workers):
    """None (every core) or a whole number >= 1; else a one-line ConfigError (0 is not 'every core')."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ConfigError(f"workers={workers!r}: expected a whole number >= 1 (leave it out to use every core)")
    return workers


def process_pool(workers: int | None = None, context: str | None = None) -> WorkerPool:
    """A WorkerPool of `workers` processes (default: all cores), each holding BLAS to its share of
    the cores. Children start by 'spawn' (fresh interpreters, so none inherits the parent's
    threads -- tqdm's monitor, numba's or BLAS's pools); `context` may say 'fork' or 'forkserver'."""
    workers = _check_workers(workers) or os.cpu_count() or 1
    blas = max(1, (os.cpu_count() or 1) // workers)
    return WorkerPool(workers, context, initializer=_init_worker, initargs=(blas,))


# -- data, checked before any run -----------------------------------------------------------
def data_problem(key) -> str | None:
    """None if the data a run needs loads, else why not, in one line. `key` is data_key(config);
    without n_train/n_test one sample of each part is loaded."""
    from ..data import REGISTRY, kind_of, load

    dataset, heldout, n_train, n_test, args = key
    args = dict(args)
    own = f"leave --heldout out to use {dataset}'s own train/test split"
    try:
        if heldout is not None and (kind_of(dataset) != "registry" or not REGISTRY[dataset].mnist_shaped):
            return (f"--heldout {heldout}: the post's split is for MNIST-shaped data (28x28 images: mnist, "
                    f"fashion-mnist, random), not {dataset}; {own}")
        load(dataset, n_train=n_train or 1, n_test=n_test or 1, heldout=heldout, verbose=False, **args)
    except ExplorerError as e:
        if heldout is None:
            return str(e)
        try:  # is the data there, and only too small for the post's split?
            load(dataset, n_train=1, n_test=1, verbose=False, **args)
        except ExplorerError as again:
            return str(again)
        try:
            load(dataset, n_train=1, n_test=1, heldout=heldout, verbose=False, **args)
        except ExplorerError:
            return f"--heldout {heldout}: the post's split needs 40,500 training samples and {dataset} has fewer; {own}"
        return str(e)
    except Exception as e:  # an unexpected failure of the data layer: still one line
        return one_line(e)
    return None


def check_data(configs, executor=None) -> None:
    """A one-line ExplorerError unless every distinct data set of `configs` loads -- here, or on
    `executor` (where the runs will run) if one is given."""
    keys = list(dict.fromkeys(data_key(c) for c in configs))
    if executor is None or isinstance(executor, WorkerPool):  # this machine
        problems = [data_problem(k) for k in keys]
    else:
        problems = [f.result() for f in [executor.submit(data_problem, k) for k in keys]]
    bad = [p for p in problems if p]
    if bad:
        raise ExplorerError(bad[0] + (f" (and {len(bad) - 1} more data problems)" if len(bad) > 1 else ""))


def check_memory(configs) -> str:
    """A one-line ConfigError unless every distinct run of `configs` fits in this machine's memory
    on its own, in a fresh process (training.memory.check: the process, the data set and the run);
    else one line on the largest: '~X at its peak (PHASE) of Y available'."""
    from ..data import io_sizes
    from ..training.memory import available_bytes, check, human

    worst = None
    for c in {run_id(c): c for c in configs}.values():
        est = check(c, *io_sizes(c.dataset, **c.data_args()), fresh=True)  # or refuses (a file: its own sizes)
        if worst is None or est.total > worst.total:
            worst = est
    avail = available_bytes()
    runs = "the run needs" if len(configs) == 1 else "the largest run needs"
    return (f"{runs} ~{human(worst.total)} at its peak ({worst.peak_phase})"
            + (f" of {human(avail)} available" if avail is not None else ""))


# -- the parent side --------------------------------------------------------------------------
def _cost(cfg: RunConfig) -> float:
    """Rough relative cost, to start the longest runs first (less idle time at the end)."""
    width = sum(cfg.hidden) + 10
    return (cfg.burn_in + cfg.steps) * cfg.batch_size * width


def _resolve_data(cfgs: list[RunConfig], verbose: bool) -> list[RunConfig]:
    """Pick the data set for 'auto', and hash each data file, once, in the parent, so every worker
    trains on the same data (see the module docstring)."""
    from ..data import load

    chosen: dict = {}
    out = []
    for c in cfgs:
        if c.dataset == "auto":
            if c.data_dir not in chosen:
                chosen[c.data_dir] = load("auto", c.data_dir, n_train=1, n_test=1, verbose=verbose).name
            c = c.replace(dataset=chosen[c.data_dir])
        key = (c.dataset, c.dataset_sha256)
        if key not in chosen:
            chosen[key] = c.with_data().dataset_sha256
        out.append(c.replace(dataset_sha256=chosen[key]))
    return out


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the sweep. `records`: the finished runs (run_id -> record), on disk if there
    is a runs.jsonl; `str()`: one line saying how many and how to go on."""

    def __init__(self, message: str, records: dict):
        super().__init__(message)
        self.records = records


class SweepStopped(ExplorerError):
    """A run record could not be written (e.g. a full disk): the sweep stopped, one line says why.
    `records` holds the finished runs, the unwritten ones included."""

    def __init__(self, message: str, records: dict):
        super().__init__(message)
        self.records = records


def sweep(configs, executor=None, out=None, progress=True, *, workers: int | None = None,
          retry_failed: bool = True, mp_context: str | None = None, check: bool = True) -> list[dict]:
    """Run every config (RunConfig or dict) and return one record per config, in order.

    executor: any `concurrent.futures.Executor`, e.g. `ProcessPoolExecutor(4)` or
        `dask.distributed.Client(address).get_executor()`; it is left running. None: a
        WorkerPool of `workers` processes (default: all cores); a WorkerPool (`process_pool()`)
        may be given too. The pool's workers have ended when this returns.
    out: a folder; records go to `out/runs.jsonl` as runs finish, and runs already there are
        not run again (see the module docstring for resume, dropped lines and failed runs).
        Lines of runs that are not in `configs` are left in the file and not returned.
    progress: a tqdm bar (stderr, or a widget in Jupyter).
    check: before any run, check that the data sets load (`check_data`); False lets a data
        problem surface as failed runs instead.

    A record is the results dict of `explorer train --json` (`config` included) plus `run_id`,
    `status` ("ok" | "diverged" | "failed"), `error` (one line or None) and `worker`. Failed
    runs carry only `config` besides those. Identical configs are run once and share a record.
    Ctrl-C: see "Stopping" in the module docstring (SweepInterrupted); an unwritable record:
    SweepStopped. Bad input, an unwritable `out` or missing data: ExplorerError, before any run.
    """
    cfgs = [canonical(c) for c in itertools.islice(configs, MAX_RUNS + 1)]  # a generator of 10^9: read no more
    if not cfgs:
        raise ConfigError("the sweep is empty: pass at least one config")
    if len(cfgs) > MAX_RUNS:
        raise ConfigError(f"the sweep has more than {MAX_RUNS:,} runs; split it into smaller sweeps")
    _check_workers(workers)
    log = RunLog(out) if out is not None else None
    if log is not None:
        log.check()
    cfgs = _resolve_data(cfgs, verbose=bool(progress))
    ids = [run_id(c) for c in cfgs]
    unique = dict(zip(ids, cfgs))
    if check:
        check_data(unique.values(), executor)

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
            tasks = executor if isinstance(executor, WorkerPool) else ExecutorTasks(executor) if executor else \
                process_pool(min(workers or os.cpu_count() or 1, len(todo)), mp_context)  # checked above
            _run_all(todo, records, tasks, log, progress, n_total=len(unique))
    finally:
        if log is not None:
            log.unlock()
    return [records[i] for i in ids]


def _run_all(todo, records, tasks, log, progress, n_total) -> None:
    """Run `todo` on `tasks` (a WorkerPool or ExecutorTasks), recording each run as it finishes."""
    from tqdm.auto import tqdm

    n_before = len(records)
    desc = f"sweep ({n_before} done before)" if n_before else "sweep"
    failed = 0
    on_disk = n_before if log is not None else 0
    stop: ExplorerError | None = None  # why the records stopped being written

    def record(rid, ok, value):
        nonlocal failed, on_disk, stop
        rec = value if ok else {"run_id": rid, "status": "failed", "error": value, "config": cfgs[rid].to_dict()}
        records[rid] = rec
        failed += rec["status"] == "failed"
        bar.update(1)
        if failed:
            bar.set_postfix(failed=failed)
        if log is not None and stop is None:
            try:
                with interrupts.critical():  # a second Ctrl-C waits for the line to be whole
                    log.append(rec)
                on_disk += 1
            except ExplorerError as e:
                stop = e

    cfgs = dict(todo)
    stopped = True
    with tqdm(total=len(todo), desc=desc, unit="run", disable=not progress, file=sys.stderr) as bar, \
            Interrupts() as interrupts:
        try:
            for rid, cfg in todo:
                tasks.submit(rid, run_one, cfg.to_dict(), rid)
            while tasks.busy() and not interrupts.count and stop is None:
                for rid, ok, value in tasks.wait(0.2):
                    record(rid, ok, value)
            if interrupts.count and stop is None:  # Ctrl-C: nothing new starts; the running runs get GRACE
                tasks.cancel_pending()
                deadline = time.monotonic() + GRACE
                while tasks.busy() and stop is None and (left := deadline - time.monotonic()) > 0:
                    for rid, ok, value in tasks.wait(min(left, 0.1)):
                        record(rid, ok, value)
            stopped = tasks.busy() or bool(interrupts.count) or stop is not None
        except KeyboardInterrupt:  # a second Ctrl-C, or one that came before ours was listening
            interrupts.count = max(interrupts.count, 1)
        finally:
            interrupts.stopping = True  # ending the workers takes ms; a Ctrl-C now must not cut it short
            tasks.kill() if stopped else tasks.close()
    if stop is None and len(records) == n_total:  # the Ctrl-C came when every run was done
        return
    if stop is not None:
        raise SweepStopped(f"{stop}; the sweep stopped with {on_disk} of {n_total} runs in {log.path}; then run "
                           f"the same command again to do the other {n_total - on_disk}", records)
    if stopped:
        where = f" and in {log.path}" if log is not None else ""
        raise SweepInterrupted(f"interrupted; {len(records)} of {n_total} runs are done{where}; run the same "
                               f"command again to do the other {n_total - len(records)}", records)


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
    n = math.prod(len(v) for v in axes.values())
    if n > MAX_RUNS:  # refused before any run is planned: a plan of 10^9 would fill the memory
        sizes = " x ".join(f"{len(v):,} {k}" for k, v in axes.items())
        raise ConfigError(f"the grid has {n:,} runs ({sizes}); one sweep runs at most {MAX_RUNS:,}: use fewer "
                          f"values or seeds, or split it into several sweeps")
    keys = list(axes)
    runs = (canonical(base.replace(**dict(zip(keys, combo)))) for combo in itertools.product(*axes.values()))
    return list({run_id(c): c for c in runs}.values())


def read_grid(path) -> tuple[dict, dict]:
    """(base settings, axes) from a grid.json file; one-line ConfigError on any problem."""
    p = Path(path)
    g = read_json_file(p, "--grid")
    if not isinstance(g, dict):
        raise ConfigError(f"--grid {str(p)!r}: expected a JSON object of axes, got {type(g).__name__}")
    base = g.pop("base", {})
    if not isinstance(base, dict):
        raise ConfigError(f"--grid {str(p)!r}: \"base\" must be an object of settings")
    axes = {}
    for k, v in g.items():
        if k == "seeds":
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= MAX_RUNS:
                raise ConfigError(f"--grid {str(p)!r}: \"seeds\" must be a whole number in 1..{MAX_RUNS:,}, got "
                                  f"{shown(v)}")
            axes["seed"] = range(v)
            continue
        if k not in _AXES:
            raise ConfigError(f"--grid {str(p)!r}: unknown key {k!r}; known: base, seeds, {', '.join(_AXES)}")
        axes[k] = v if isinstance(v, list) else [v]
        if not axes[k]:
            raise ConfigError(f"--grid {str(p)!r}: {k!r} is an empty list, so the grid would be empty")
    return base, axes
