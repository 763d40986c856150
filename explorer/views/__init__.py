"""Live plotly views of a training run, each a Callback owning one FigureWidget.

    from explorer.views import WeightHistogram
    v = WeightHistogram()
    Trainer(cfg, callbacks=[v]).fit(dataset)
    v.fig

WeightHistogram (|w| log-log, threshold preview), HistogramOverTime (step x log|w|
heatmap with replay), GradientFeedback (|g| per |w| decile, Spearman over steps),
AccuracyLoss (loss and test accuracy, dense reference), Survivors (surviving input
weights as images, mask stability), Speed (us/sample, weights alive, speed-up).
"""

from .accuracy import AccuracyLoss
from .base import View
from .feedback import GradientFeedback
from .heatmap import HistogramOverTime
from .speed import Speed
from .survivors import Survivors
from .weights import WeightHistogram

__all__ = ["AccuracyLoss", "GradientFeedback", "HistogramOverTime", "Speed", "Survivors", "View",
           "WeightHistogram", "all_views"]


def all_views(layer: int = 0) -> dict:
    """One of each view, keyed by the names the dashboard and its exports use."""
    return {"weights": WeightHistogram(layer=layer), "heatmap": HistogramOverTime(layer=layer),
            "feedback": GradientFeedback(layer=layer), "accuracy": AccuracyLoss(), "survivors": Survivors(),
            "speed": Speed()}
