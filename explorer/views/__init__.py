"""Live plotly views of a training run, drawn from one Board's records on one frame clock.

    from explorer.views import WeightHistogram
    v = WeightHistogram()
    Trainer(cfg, callbacks=[v]).fit(dataset)
    v.fig

VIEWS lists them in the order the dashboard shows them (the first two side by side at the
top): WeightHistogram (|w| log-log, the cut's threshold and preview), AccuracyLoss (loss and
test accuracy, events, a dense reference), HistogramOverTime (step x log|w| heatmap),
GradientFeedback (|g| per |w| decile, Spearman over steps), Survivors (surviving input
weights as images, mask stability), Connectivity (weights per input pixel, coverage, rewirings),
Speed (us/sample, weights alive, speed-up). Inputs that are not images (a CSV's features) get
per-feature bars in Survivors and Connectivity instead of pictures (features.py). A new view
is a module here with a View subclass, one entry in VIEWS, and its test.

May import: training (the Callback protocol, Series), sparsity, stats and errors; never
experiments, app or cli (the dashboard lays the views out). tests/test_project.py holds this.
"""

from .accuracy import AccuracyLoss
from .base import Board, Frame, View, log_schedule
from .connectivity import Connectivity
from .feedback import GradientFeedback
from .heatmap import HistogramOverTime
from .speed import Speed
from .survivors import Survivors
from .weights import WeightHistogram

VIEWS = {cls.key: cls for cls in (WeightHistogram, AccuracyLoss, HistogramOverTime, GradientFeedback, Survivors,
                                  Connectivity, Speed)}

__all__ = ["VIEWS", "AccuracyLoss", "Board", "Connectivity", "Frame", "GradientFeedback", "HistogramOverTime", "Speed",
           "Survivors", "View", "WeightHistogram", "all_views", "log_schedule"]


def all_views() -> dict:
    """One of each view, keyed by the names the dashboard and its exports use."""
    return {key: cls() for key, cls in VIEWS.items()}
