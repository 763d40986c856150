"""The `explorer` command: train, reproduce, sweep, data, lab.

Bad input never shows a traceback: every ExplorerError is printed as one line
("explorer: error: ...") and the command exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

from .config import RunConfig
from .errors import ConfigError, ExplorerError

# Every RunConfig setting as a command-line option: (flag, field, help). Values are parsed
# by RunConfig itself, so the CLI and the Python API accept the same things.
TRAIN_OPTIONS = [
    ("--dataset", "dataset", "mnist | fashion-mnist | cifar10 | digits | random | auto (default: auto)"),
    ("--data-dir", "data_dir", "folder holding the data set's standard files (e.g. the four MNIST IDX .gz)"),
    ("--n-train", "n_train", "use only the first N training samples"),
    ("--n-test", "n_test", "evaluate on the first N test samples"),
    ("--hidden", "hidden", "hidden units; 256x128 for two hidden layers (default: 128)"),
    ("--activation", "activation", "tanh (the post: tanh + squared error) or relu (softmax + cross-entropy)"),
    ("--init-scale", "init_scale", "initial weights uniform in +-S (default: 1e-5)"),
    ("--burn-in", "burn_in", "dense SGD steps before pruning (default: 200)"),
    ("--prune", "prune", "none | halving:k | fraction:f | keep:n | threshold:t | random:f (default: halving:5)"),
    ("--prune-layers", "prune_layers", "weight layers to prune: 0 (input, default), 0,1, or all"),
    ("--prune-scope", "prune_scope", "rank magnitudes per layer (default) or global"),
    ("--steps", "steps", "SGD steps after burn-in (default: 30000)"),
    ("--batch-size", "batch_size", "samples per step (default: 1)"),
    ("--lr", "lr", "learning rate (default: 0.01)"),
    ("--seed", "seed", "random seed (default: 0)"),
    ("--eval-every", "eval_every", "evaluate every N steps (default: 0, only at the end)"),
    ("--engine", "engine", "auto | numba | scipy (the reference)"),
]
_INT = {"n_train", "n_test", "burn_in", "steps", "batch_size", "seed", "eval_every"}
_FLOAT = {"init_scale", "lr"}


def parse_value(field: str, text: str):
    """One option's text -> the RunConfig value, with a one-line error naming the option."""
    flag = "--" + field.replace("_", "-")
    try:
        if field in _INT:
            return int(text)
        if field in _FLOAT:
            return float(text)
    except ValueError:
        kind = "a whole number" if field in _INT else "a number"
        raise ConfigError(f"{flag} {text!r}: expected {kind}") from None
    if field == "hidden":
        if "," in text:
            raise ConfigError(f"--hidden {text!r}: write layers as 256x128 (a comma means a list of runs in "
                              f"'explorer sweep')")
        try:
            return tuple(int(p) for p in text.lower().split("x"))
        except ValueError:
            raise ConfigError(f"--hidden {text!r}: expected whole numbers such as 128 or 256x128") from None
    if field == "prune_layers":
        return text if text.strip().lower() == "all" else text
    return text


def add_train_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="a RunConfig JSON file; options given here override it")
    for flag, field, help_ in TRAIN_OPTIONS:
        p.add_argument(flag, dest=field, default=None, help=help_)


def config_from_args(args, values: dict | None = None) -> RunConfig:
    """RunConfig from --config (if any) overridden by the options that were given."""
    cfg = RunConfig.from_json(args.config) if getattr(args, "config", None) else RunConfig()
    if values is None:
        values = {f: getattr(args, f) for _, f, _ in TRAIN_OPTIONS if getattr(args, f, None) is not None}
    changes = {f: parse_value(f, v) if isinstance(v, str) else v for f, v in values.items()}
    return cfg.replace(**changes).validate()


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
    from .callbacks import Progress
    from .data import load
    from .export import write_json_atomic
    from .trainer import Trainer

    cfg = config_from_args(args)
    ds = load(cfg.dataset, cfg.data_dir, verbose=not args.quiet)
    callbacks = [] if args.quiet or not sys.stderr.isatty() else [Progress(leave=False)]
    trainer = Trainer(cfg, callbacks=callbacks).fit(ds)
    r = trainer.results_
    if args.json:
        write_json_atomic(args.json, r)
    if not args.quiet:
        print(summary(r))
    if r.get("diverged"):
        print(f"explorer: {r['diverged']}", file=sys.stderr)
        return 1
    return 0


def cmd_data(args) -> int:
    from . import data

    if args.data_cmd == "list":
        print(data.list_report())
    elif args.data_cmd == "fetch":
        path = data.fetch(args.name, args.data_dir)
        print(f"{args.name}: ready at {path}")
    return 0


def cmd_lab(args) -> int:
    from .lab import launch

    return launch(voila=args.voila, port=args.port)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="explorer", description="Burn in, prune, train sparse -- and see why it works.")
    sub = p.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("train", help="one run: burn-in, prune, sparse training, evaluation")
    add_train_options(t)
    t.add_argument("--json", metavar="FILE", help="write the results as one JSON object to FILE")
    t.add_argument("--quiet", action="store_true", help="print nothing (use with --json)")
    t.set_defaults(func=cmd_train)

    d = sub.add_parser("data", help="list or fetch the data sets")
    dsub = d.add_subparsers(dest="data_cmd", required=True)
    dsub.add_parser("list", help="each data set: available or not, and from where")
    f = dsub.add_parser("fetch", help="download a data set into the cache and verify it")
    f.add_argument("name")
    f.add_argument("--data-dir", default=None, help="download into this folder instead of the cache")
    d.set_defaults(func=cmd_data)

    lab = sub.add_parser("lab", help="open the dashboard notebook in JupyterLab (or Voila)")
    lab.add_argument("--voila", action="store_true", help="serve the dashboard as an app with Voila")
    lab.add_argument("--port", type=int, default=None)
    lab.set_defaults(func=cmd_lab)

    try:  # reproduce and sweep live in sweep.py (optional until it exists)
        from .sweep import add_sweep_commands

        add_sweep_commands(sub)
    except ImportError:
        pass
    return p


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ExplorerError as e:
        print(f"explorer: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("explorer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
