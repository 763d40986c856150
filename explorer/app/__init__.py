"""The dashboard: `Explorer` (dashboard.py) and its parts -- the setting controls built from
RunConfig's metadata (controls.py), the run loop at a pace (runner.py), live re-runs, the
results cache and the what-if queue (reruns.py), the run history (history.py), the panels
besides the views (panels.py), files and sharing (actions.py) and the settings in a link
(link.py). Imported on first use of `explorer.Explorer`, so the core never needs widgets.

May import: views, experiments (the history's run ids), training, config, data, sparsity,
export and errors; never cli. tests/test_project.py holds these arrows.
"""

from .dashboard import Explorer

__all__ = ["Explorer"]
