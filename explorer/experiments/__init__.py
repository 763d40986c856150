"""Experiments: many runs of the Trainer and what they show. `sweep` runs a grid of RunConfigs
on an executor (this machine's process pool, or Dask), resumable from runs.jsonl; the commands'
experiments and the scaling measurements are built on it and on the Trainer.

    sweeps     grids of RunConfigs on an executor, resumable (explorer.sweep)
    pool       the sweep's process pool: Ctrl-C in order, workers that die with their parent
    runlog     runs.jsonl: read, repair, append durably
    summary    tables with 95% intervals, CSV, heatmaps of sweep records
    reproduce  `explorer reproduce`: the post's experiments, beside its published numbers
    compare    `explorer compare`: dense, the post's cut, random, gradual, SET, RigL at one budget
    scaling    time and memory against width, each width measured in a fresh process

May import: training, config, data, engine, sparsity, views (scaling times them), export,
files and errors; never app or cli. A new experiment command is a module here (its plan of
RunConfigs run through sweeps.sweep, its table and figures) plus its subcommand in cli.py.
tests/test_project.py holds these arrows.
"""
