"""Statistics behind the post's claims: heavy tails, gradient feedback, mask stability.

The post argues (1) |w| and |g| are heavy-tailed soon after initialisation, (2) big weights
get big gradients ("rich get richer") and (3) so the weights that will matter are known
almost at once, which is why an early cut loses little. This package measures each claim,
one job per module:

    histograms      log_histogram -> LogHistogram, ccdf, LOG_EDGES: what |w| looks like (live)
    summary         hill_alpha, gini, kurtosis, top_share, live_summary: one-number estimates (live)
    tails           tail_fit -> TailFit: a proper Clauset-Shalizi-Newman tail fit (~0.5 s)
    grad_feedback   feedback -> Feedback: |w| vs |g| rank correlation and per-decile curves
    masks           jaccard, mask_overlap -> Overlap, mask_stability -> MaskStability: how much
                    of an early mask survives to a late one; jaccard_index, churn, coverage:
                    the same for masks given as sorted flat indices (no dense copy)

Every public name is re-exported here: use `from explorer.stats import X`. Pure numpy/scipy,
plus the `powerlaw` package inside `tail_fit` (imported there, lazily: it pulls in a plotting
library, which the core must not import). Zeros are pruned weights and are left out of every
statistic; NaN/inf raise ExplorerError (except in the histogram and `live_summary`, which
count them so a dashboard keeps drawing when a run diverges).

May import: sparsity (the trainer's own rule code, so a mask overlap compares the masks a cut
would keep) and errors; never training or anything above. tests/test_project.py holds this.
"""

from .grad_feedback import Feedback, feedback
from .histograms import LOG_EDGES, LOG_HI, LOG_LO, PER_DECADE, LogHistogram, ccdf, log_histogram
from .masks import (
    MaskStability,
    Overlap,
    churn,
    coverage,
    jaccard,
    jaccard_index,
    mask_overlap,
    mask_stability,
    random_jaccard,
)
from .summary import gini, hill_alpha, kurtosis, live_summary, top_share
from .tails import ALTERNATIVES, TailFit, tail_fit

__all__ = ["ALTERNATIVES", "LOG_EDGES", "LOG_HI", "LOG_LO", "PER_DECADE", "Feedback", "LogHistogram",
           "MaskStability", "Overlap", "TailFit", "ccdf", "churn", "coverage", "feedback", "gini", "hill_alpha",
           "jaccard", "jaccard_index", "kurtosis", "live_summary", "log_histogram", "mask_overlap",
           "mask_stability", "random_jaccard", "tail_fit", "top_share"]
