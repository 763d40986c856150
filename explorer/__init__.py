"""explorer: train an MLP densely for a short burn-in, kill the small weights for good, and
keep training with truly sparse compute -- and watch why it works.

    from explorer import RunConfig, Trainer, load
    trainer = Trainer(RunConfig(hidden=(128,), prune="halving:5")).fit(load("auto"))
    trainer.results_

The widget dashboard (`Explorer`) is imported lazily, so the core never needs plotly.
"""

# `sweep` is imported here, before anything else imports the submodule of the same name: the
# package attribute `explorer.sweep` is then the function for good (the import system sets a
# submodule as an attribute of its package only when it first loads it).
from .callbacks import Callback, CallbackError, Progress, Recorder
from .config import RunConfig
from .errors import ConfigError, DataError, ExplorerError
from .sweep import sweep
from .trainer import Trainer

__version__ = "0.1.0"

__all__ = ["Callback", "CallbackError", "ConfigError", "DataError", "Explorer", "ExplorerError", "Progress",
           "Recorder", "RunConfig", "Trainer", "load", "sweep"]


def __getattr__(name):  # lazy: data (pooch), the dashboard (plotly, ipywidgets)
    if name == "load":
        from .data import load

        return load
    if name == "Explorer":
        from .app import Explorer

        return Explorer
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
