"""The `explorer` command: train, sweep, reproduce, compare, data, lab. This module owns the argparse
wiring and nothing else: a run setting's option, its help and how its text is read all come
from RunConfig's metadata (config.SETTINGS), and the work is done by the library modules
(trainer, sweeps, reproduce, compare, summary, data, lab).

Bad input never shows a traceback: every ExplorerError is printed as one line
("explorer: error: ...") and the command exits with status 2. `--dry-run` (train, sweep,
reproduce, compare) validates everything and prints what would run, without running it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .config import DEFAULTS, SETTINGS, RunConfig, check_seeds
from .config_text import flag, format_value, parse_list, parse_text
from .errors import ConfigError, ExplorerError

FORMATS = ("html", "png", "svg", "pdf")
_METAVAR = {"int": "N", "float": "X", "choice": "NAME", "rule": "RULE", "units": "H[xH]", "layers": "L[,L]",
            "path": "DIR"}


# -- settings as options ----------------------------------------------------------------------
def add_setting_options(p: argparse.ArgumentParser, axes: bool = False) -> None:
    """One option per RunConfig setting (and --config). With `axes`, a comma list of values
    makes the setting an axis of the grid (for settings a sweep may vary)."""
    p.add_argument("--config", metavar="FILE", help="a RunConfig JSON file; the options given here override it")
    for name, spec in SETTINGS.items():
        if not spec.cli:
            continue
        default = format_value(name, getattr(DEFAULTS, name))
        more = "; a comma list is an axis" if axes and spec.sweep else ""
        metavar = {"dataset": "NAME|PATH", "label_column": "COLUMN"}.get(name, _METAVAR.get(spec.kind, "VALUE"))
        p.add_argument(flag(name), dest=name, default=None, metavar=metavar,
                       help=f"{spec.help} (default: {default}{more})".replace("%", "%%"))


def _given(args) -> dict:
    return {name: getattr(args, name) for name, spec in SETTINGS.items()
            if spec.cli and getattr(args, name, None) is not None}


def _base(args) -> RunConfig:
    return RunConfig.from_json(args.config) if getattr(args, "config", None) else RunConfig()


def config_from_args(args) -> RunConfig:
    """`explorer train`'s RunConfig: --config (if any) overridden by the options given."""
    changes = {}
    for name, text in _given(args).items():
        if "," in text and SETTINGS[name].kind != "layers":
            layers = " (hidden layers are written 256x128)" if SETTINGS[name].kind == "units" else ""
            raise ConfigError(f"{flag(name)} {text!r}: one value here{layers}; a comma list makes a grid of runs "
                              f"with `explorer sweep`")
        changes[name] = parse_text(name, text, cli=True)
    return _base(args).replace(**changes).validate()


def grid_from_args(args) -> list[RunConfig]:
    """`explorer sweep`'s grid: --config, then --grid, then the options (comma lists are axes)."""
    from .experiments.sweeps import grid, read_grid

    base = _base(args)
    axes: dict = {}
    if args.grid:
        base_d, axes = read_grid(args.grid)
        base = RunConfig.from_dict({**base.to_dict(), **base_d})
    for name, text in _given(args).items():
        if SETTINGS[name].sweep:
            # in a sweep the comma separates runs; the layers of one run are joined with +
            axes[name] = parse_list(name, text, cli=True)
        else:
            base = base.replace(**{name: parse_text(name, text, cli=True)})
    if args.seeds is not None:
        check_seeds(args.seeds)
        if args.seed is not None:
            raise ConfigError("--seeds N runs seeds 0..N-1 and --seed picks seeds; pass only one of them")
        axes["seed"] = list(range(args.seeds))
    if args.heldout:
        if args.heldout != "post":
            raise ConfigError(f"--heldout {args.heldout!r}: the only split is 'post' (test on training "
                              f"samples 40,000..40,499)")
        base = base.replace(extra={**base.extra, "heldout": "post"})
    return grid(base, axes)


def formats_from_text(text: str) -> tuple:
    formats = tuple(f.strip().lower() for f in text.split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise ConfigError(f"--formats {text!r}: expected a comma list of {', '.join(FORMATS)}")
    return formats


def _workers(n):
    if n is not None and n < 1:
        raise ConfigError(f"--workers {n}: expected a whole number >= 1 (leave it out to use every core)")
    return n


def _executor(args):
    """(executor or None, a function that closes what we opened)."""
    if getattr(args, "scheduler", None):
        from .experiments.sweeps import dask_executor

        return dask_executor(args.scheduler)
    return None, lambda: None


# -- commands ---------------------------------------------------------------------------------
def _num(x) -> str:
    return "n/a" if x is None or x != x else f"{x:.4f}"


def summary(r: dict) -> str:
    """A readable summary of a results dict (what `explorer train` prints without --json)."""
    c = r["config"]
    sizes = "-".join(str(x) for x in [r["weights_total"][0] // c["hidden"][0] - 1, *c["hidden"],
                                      r["weights_total"][-1] // c["hidden"][-1]])
    alive = " | ".join(f"layer {i}: {a:,} of {t:,} ({100 * a / t:.1f}%)"
                       for i, (a, t) in enumerate(zip(r["weights_alive"], r["weights_total"])))
    sec, sps = r["seconds"], r["samples_per_second"]
    speed = ", ".join(f"{k.replace('_', '-')} {v:,.0f} samples/s" for k, v in sps.items() if v)
    lines = [
        f"dataset        {r['dataset']} ({r['n_train']:,} train, {r['n_test']:,} test)",
        f"model          {sizes} {c['activation']}, burn-in {c['burn_in']}, prune {c['prune']} "
        f"(layers {c['prune_layers']}), {c['steps']:,} steps at batch {c['batch_size']}, "
        f"lr {c['lr']}, seed {c['seed']}",
        f"test accuracy  {_num(r['test_accuracy'])}   (test loss {_num(r['test_loss'])})",
        f"weights alive  {alive}",
        "seconds        " + ", ".join(f"{k.replace('_', '-')} {v:.3f}" for k, v in sec.items()),
        f"speed          {speed}   [{r['engine']}]",
    ]
    if r.get("diverged"):
        lines.append(f"DIVERGED       {r['diverged']}")
    return "\n".join(lines)


def cmd_train(args) -> int:
    from .files import check_output_file

    cfg = config_from_args(args)
    if args.json is not None:
        check_output_file(args.json, "--json")
    if args.quiet and not args.json:
        raise ConfigError("--quiet prints nothing, so the results would be lost; add --json FILE")
    if args.dry_run:
        from .experiments.sweeps import check_data, check_memory

        check_data([cfg])
        print(f"explorer: memory: {check_memory([cfg])}", file=sys.stderr)  # or refuses
        print(cfg.to_json())
        return 0
    from .data import load
    from .files import write_json_atomic
    from .training.callbacks import Progress
    from .training.trainer import Trainer

    ds = load(cfg.dataset, verbose=not args.quiet, **cfg.data_args())
    callbacks = [] if args.quiet or not sys.stderr.isatty() else [Progress(leave=False)]
    import warnings

    with warnings.catch_warnings(record=True):  # said below, one line each, instead of Python's two
        warnings.simplefilter("always", RuntimeWarning)
        trainer = Trainer(cfg, callbacks=callbacks).fit(ds)
    r = trainer.results_
    if args.json:
        write_json_atomic(args.json, r)
    if not args.quiet:
        print(summary(r))
    for w in r.get("warnings", []):
        print(f"explorer: warning: {w}", file=sys.stderr)
    if r.get("diverged"):
        print(f"explorer: {r['diverged']}", file=sys.stderr)
        return 1
    return 0


def _out(text: str) -> Path:
    """--out checked before any work: a folder that can be written, and its runs.jsonl too."""
    from .experiments.runlog import RunLog
    from .files import check_output_folder

    out = check_output_folder(text, "--out")
    RunLog(out).check("--out")
    return out


def cmd_sweep(args) -> int:
    from .experiments import summary as S
    from .experiments.sweeps import RUNS_FILE, sweep

    cfgs = grid_from_args(args)
    formats = formats_from_text(args.formats)
    out = _out(args.out)
    workers = _workers(args.workers)
    if args.dry_run:
        from .experiments.sweeps import check_data, check_memory

        check_data(cfgs)
        print(f"explorer: memory: {check_memory(cfgs)}", file=sys.stderr)
        print(f"{len(cfgs)} runs")
        for c in cfgs:
            print(" ".join(f"{k}={format_value(k, getattr(c, k))}" for k in SETTINGS if SETTINGS[k].cli
                           and getattr(c, k) != getattr(DEFAULTS, k)) or "(the defaults)")
        return 0
    executor, close = _executor(args)
    print(f"explorer sweep: {len(cfgs)} runs into {out / RUNS_FILE}", file=sys.stderr)
    try:
        records = sweep(cfgs, executor=executor, out=out, progress=not args.no_progress, workers=workers)
    finally:
        close()
    from .export import write_figures
    from .files import write_text_atomic

    axes, rows = S.summarize(records)
    print(S.format_table(axes, rows))
    cols = [*axes, "runs", "failed", "accuracy", "accuracy_ci95", "seconds", "seconds_ci95", "weights_alive"]
    write_text_atomic(out / "summary.csv", S.csv_text(rows, cols))
    paths, note = write_figures(S.heatmaps(records, axes), out, formats=formats)
    print(f"wrote {out / 'summary.csv'}" + (f" and {len(paths)} figure files" if paths else ""), file=sys.stderr)
    if note:
        print(f"explorer: {note}", file=sys.stderr)
    return _report_failures(records, out)


def _report_failures(records, out) -> int:
    from .experiments.summary import failures

    line = failures(records, out)
    if line is None:
        return 0
    print(f"explorer: {line}", file=sys.stderr)
    return 1


def _run_and_report(args, out, run, table) -> int:
    """`run(executor)` on the executor the arguments ask for, then its table, what it wrote and
    its failures (reproduce and compare end alike)."""
    import time

    executor, close = _executor(args)
    t0 = time.perf_counter()
    try:
        res = run(executor)
    finally:
        close()
    print(table(res))
    print(f"\n{res['runs']} runs in {time.perf_counter() - t0:.1f} s; wrote {out / 'results.csv'}, "
          f"{out / 'results.json'} and {len(res['figures'])} figure files", file=sys.stderr)
    if res["note"]:
        print(f"explorer: {res['note']}", file=sys.stderr)
    return _report_failures(res["records"], out)


def cmd_reproduce(args) -> int:
    from .experiments.reproduce import format_table, plan_runs, reproduce

    check_seeds(args.seeds)
    formats = formats_from_text(args.formats)
    out = _out(args.out)
    workers = _workers(args.workers)
    if args.dry_run:
        from .experiments.sweeps import check_memory

        cfgs = plan_runs(args.dataset, args.data_dir, args.quick, args.seeds)
        print(f"explorer: memory: {check_memory(cfgs)}", file=sys.stderr)
        print(f"{len(cfgs)} runs")
        for c in cfgs:
            print(f"hidden={format_value('hidden', c.hidden)} prune={c.prune} seed={c.seed} steps={c.steps}")
        return 0
    def run(executor):
        return reproduce(args.dataset, args.data_dir, out, quick=args.quick, seeds=args.seeds, executor=executor,
                         workers=workers, progress=not args.no_progress, formats=formats)

    return _run_and_report(args, out, run, lambda res: format_table(res["rows"], res["dataset"], res["split"]))


def cmd_compare(args) -> int:
    from .experiments.compare import compare, format_table, plan

    formats = formats_from_text(args.formats)
    out = _out(args.out)
    workers = _workers(args.workers)
    if args.dry_run:  # (a real run plans in compare(), with the same one-line errors before any run)
        from .experiments.sweeps import check_data, check_memory

        runs = plan(args.budget, args.seeds, args.dataset, args.data_dir, args.steps, label_column=args.label_column)
        check_data([c for _, c in runs])
        print(f"explorer: memory: {check_memory([c for _, c in runs])}", file=sys.stderr)
        print(f"{len(runs)} runs")
        for m, c in runs:
            print(f"method={m} seed={c.seed} prune={c.prune} burn_in={c.burn_in} steps={c.steps} "
                  f"prune_schedule={c.prune_schedule} rewire={c.rewire} init={c.init}")
        return 0
    def run(executor):
        return compare(args.budget, args.seeds, args.dataset, args.data_dir, args.steps, out, executor=executor,
                       workers=workers, progress=not args.no_progress, formats=formats, label_column=args.label_column)

    return _run_and_report(args, out, run, format_table)


def cmd_data(args) -> int:
    from . import data

    if args.data_cmd == "list":
        print(data.list_report())
    elif args.data_cmd == "fetch":
        path = data.fetch(args.name, args.data_dir)
        print(f"{args.name}: ready at {path}")
    return 0


def _port(text: str) -> int:
    """--port's type: argparse says 'invalid value' in one line for anything else."""
    if not text.isdigit() or len(text) > 5 or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text[:20]!r}: expected a TCP port, a whole number in 1..65535")
    return int(text)


def cmd_lab(args) -> int:
    from .lab import launch

    return launch(voila=args.voila, port=args.port, notebook=args.notebook)


# -- the parser -------------------------------------------------------------------------------
def _runner_options(p: argparse.ArgumentParser) -> None:
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, metavar="N",
                       help="worker processes on this machine (default: all cores)")
    where.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="run on a Dask cluster instead, e.g. tcp://10.0.0.5:8786 (needs dask.distributed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--formats", default="html,png,svg", help="figure formats (default: html,png,svg)")
    p.add_argument("--dry-run", action="store_true", help="check everything and print the runs; run nothing")


SWEEP_HELP = ("Run a grid of configs on all cores or a Dask cluster. Every `explorer train` option is accepted; "
              "a comma list makes it an axis of the grid (e.g. --burn-in 0,50,200 --hidden 128,1024; a rule "
              "list may give the rule once: --prune fraction:0.5,0.9; --prune-layers joins layers with +: "
              "0+1,all). One JSON line per finished run goes to OUT/runs.jsonl; the same command again skips "
              "finished runs and retries failed ones. Then a summary (mean and 95%% interval over seeds) is "
              "printed and written to OUT/summary.csv, with heatmaps of accuracy and time over the first two "
              "varying axes.")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line too (and says where the help is), exit status 2."""

    def error(self, message):
        self.exit(2, f"explorer: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from .experiments.compare import BUDGET, STEPS
    from .experiments.compare import DESCRIPTION as COMPARE_HELP
    from .experiments.reproduce import DESCRIPTION, QUICK_HELP
    from .experiments.sweeps import GRID_HELP

    p = _Parser(prog="explorer", description="Burn in, prune, train sparse -- and see why it works.")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="one run: burn-in, prune, sparse training, evaluation")
    add_setting_options(t)
    t.add_argument("--json", metavar="FILE", help="write the results as one JSON object to FILE")
    t.add_argument("--quiet", action="store_true", help="print nothing (needs --json)")
    t.add_argument("--dry-run", action="store_true", help="check the settings and print the config; train nothing")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("sweep", help="a grid of runs in parallel, resumable, with summary tables and heatmaps",
                       formatter_class=argparse.RawDescriptionHelpFormatter, description=SWEEP_HELP,
                       epilog=GRID_HELP)
    add_setting_options(s, axes=True)
    s.add_argument("--grid", metavar="FILE", help="grid.json with the axes (format below)")
    s.add_argument("--seeds", type=int, default=None, metavar="N", help="run seeds 0..N-1 of every grid point")
    s.add_argument("--heldout", default=None, metavar="post",
                   help="'post': the post's split of MNIST-shaped data (train on samples 0..39,999, "
                        "test on 40,000..40,499)")
    s.add_argument("--out", required=True, metavar="DIR", help="folder for runs.jsonl, summary.csv, heatmaps")
    _runner_options(s)
    s.set_defaults(func=cmd_sweep)

    r = sub.add_parser("reproduce", help="the post's three experiments and the random-cut control, beside its "
                                         "numbers", description=DESCRIPTION + " " + QUICK_HELP)
    r.add_argument("--dataset", default="auto",
                   help="auto (MNIST if present, else Fashion-MNIST, else digits), mnist, fashion-mnist, ...")
    r.add_argument("--data-dir", default=None, help="folder holding the data set's files")
    r.add_argument("--out", default="reproduce", metavar="DIR", help="output folder (default: ./reproduce)")
    r.add_argument("--quick", action="store_true", help=QUICK_HELP.removeprefix("--quick: "))
    r.add_argument("--seeds", type=int, default=1, metavar="N", help="seeds 0..N-1 per run, for 95%% intervals")
    _runner_options(r)
    r.set_defaults(func=cmd_reproduce)

    c = sub.add_parser("compare", help="dense, the post's cut, a random cut, gradual, SET and RigL at one input "
                                       "budget", description=COMPARE_HELP)
    c.add_argument("--budget", type=int, default=BUDGET, metavar="N",
                   help=f"input-layer weights every sparse method keeps (default: {BUDGET:,}, the post's)")
    c.add_argument("--seeds", type=int, default=3, metavar="N", help="seeds 0..N-1 per method (default: 3)")
    c.add_argument("--dataset", default="auto", metavar="NAME|PATH",
                   help="auto (MNIST if present, else Fashion-MNIST, else digits), mnist, fashion-mnist, ..., a .csv "
                        "or .npz file, or openml:NAME_OR_ID")
    c.add_argument("--data-dir", default=None, help="folder holding the data set's files")
    c.add_argument("--label-column", default=None, metavar="COLUMN",
                   help="a CSV dataset's label column: a header name or a column number from 1 (default: -1, the last)")
    c.add_argument("--steps", type=int, default=STEPS, metavar="N",
                   help=f"SGD steps after the 200 burn-in steps (default: {STEPS:,}, the post's)")
    c.add_argument("--out", default="compare", metavar="DIR", help="output folder (default: ./compare)")
    _runner_options(c)
    c.set_defaults(func=cmd_compare)

    d = sub.add_parser("data", help="list or fetch the data sets")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    dsub.add_parser("list", help="each data set: available or not, and from where")
    f = dsub.add_parser("fetch", help="download a data set into the cache and verify it")
    f.add_argument("name")
    f.add_argument("--data-dir", default=None, help="download into this folder instead of the cache")
    d.set_defaults(func=cmd_data)

    lab = sub.add_parser("lab", help="open the dashboard notebook in JupyterLab (or Voila)")
    lab.add_argument("--voila", action="store_true", help="serve the dashboard as an app with Voila")
    lab.add_argument("--port", type=_port, default=None, help="the server's TCP port (1..65535)")
    lab.add_argument("notebook", nargs="?", default=None, metavar="NOTEBOOK",
                     help="the notebook to open (default: the dashboard notebook)")
    lab.set_defaults(func=cmd_lab)
    return p


def main(argv=None) -> int:
    """The `explorer` command; `argv=None` is the program itself (sys.argv), which also takes
    over Ctrl-C: after the first, the next one ends the process at once (pool.ProgramSigint)."""
    if argv is None:
        from .experiments.pool import ProgramSigint

        ProgramSigint.install()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ExplorerError as e:
        print(f"explorer: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # a sweep's says how many runs are done and how to go on
        print(f"explorer: {str(e) or 'interrupted'}", file=sys.stderr)
        if argv is None:
            from .experiments.pool import ProgramSigint

            ProgramSigint.ending()
        return 130


if __name__ == "__main__":
    sys.exit(main())
