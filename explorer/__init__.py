"""explorer: train an MLP densely for a short burn-in, kill the small weights for good, and
keep training with truly sparse compute -- and watch why it works.

    from explorer import RunConfig, Trainer, load
    trainer = Trainer(RunConfig(hidden=(128,), prune="halving:5")).fit(load("auto"))
    trainer.results_

Every name here is imported on first use (PEP 562), so `import explorer` is instant (the
`explorer` command installs its Ctrl-C handling before numpy, numba or anything else loads),
and the core never needs pooch, process pools, plotly or ipywidgets until they are asked for.
"""

from importlib import import_module

__version__ = "0.1.0"

_WHERE = {"Callback": "training.callbacks", "CallbackError": "training.callbacks", "Progress": "training.callbacks",
          "Recorder": "training.callbacks", "Trainer": "training.trainer", "RunConfig": "config",
          "ConfigError": "errors", "DataError": "errors", "ExplorerError": "errors", "load": "data", "Dataset": "data",
          "sweep": "experiments.sweeps", "Explorer": "app"}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value  # the next access does not come here
        return value
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_WHERE])
