"""The dashboard: `Explorer` (dashboard.py) and its parts -- the setting controls built from
RunConfig's metadata (controls.py, their ranges: ranges.py), Run, Pause and Stop on a worker
thread with the frame clock that draws while it trains (playing.py, runner.py, clock.py), the
race of compare's methods (race.py), live re-runs, the results cache and the what-if queue
(reruns.py), the run history (history.py), the panels besides the views (panels.py), files,
downloads and sharing (actions.py, download.py, upload.py) and the settings in a link (link.py).
Imported on first use of `explorer.Explorer`, so the core never needs widgets.

May import: views, experiments (the race's methods, the history's run ids), training, config,
config_text, data, sparsity, export and errors; never cli. tests/test_project.py holds these
arrows.
"""

from .dashboard import Explorer

__all__ = ["Explorer"]
