"""explorer: train an MLP densely for a short burn-in, kill the small weights for good, and
keep training with truly sparse compute -- and watch why it works.

    from explorer import RunConfig, Trainer, load
    trainer = Trainer(RunConfig(hidden=(128,), prune="halving:5")).fit(load("auto"))
    trainer.results_

Importing the package loads the core only (config, trainer, callbacks and what they use).
`load`, `sweep` and the widget dashboard `Explorer` are imported on first use, so the core
never needs pooch, process pools, plotly or ipywidgets.
"""

from .callbacks import Callback, CallbackError, Progress, Recorder
from .config import RunConfig
from .errors import ConfigError, DataError, ExplorerError
from .trainer import Trainer

__version__ = "0.1.0"

__all__ = ["Callback", "CallbackError", "ConfigError", "DataError", "Explorer", "ExplorerError", "Progress",
           "Recorder", "RunConfig", "Trainer", "load", "sweep"]


def __getattr__(name):  # lazy: data (pooch), sweeps (process pools), the dashboard (plotly, ipywidgets)
    if name == "load":
        from .data import load

        return load
    if name == "sweep":
        from .sweeps import sweep

        return sweep
    if name == "Explorer":
        from .app import Explorer

        return Explorer
    raise AttributeError(f"module 'explorer' has no attribute {name!r}")
