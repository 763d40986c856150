"""Training: one run. `Trainer` runs the loop top to bottom (burn-in -> cut -> sparse phase ->
evaluation) on an engine, asks the sparsity rules when and how the pattern changes, and fires
events; everything a person sees is a callback on those events or a caller of the trainer.

    trainer    Trainer: set-up, the loop, the cut and its preview, the results
    state      what hooks read: TrainerState, LayerView (read-only views of the engine's weights)
    callbacks  the Callback protocol (every / seconds / a schedule), CallbackList, Recorder, Progress
    series     bounded, halving histories (the Recorder's, the survivors view's)
    memory     a run's peak memory, part by part, against what the machine has (checked before
               anything large is allocated); this process's own measured peak

May import: config, data, engine, sparsity, stats and errors. Never experiments, views, app,
cli, export or files. tests/test_project.py holds these arrows.
"""
