"""Sparsity: which weights exist. The pruning rules and the cut, gradual schedules, rewiring
(SET, RigL), the initial weights and their sparse rescaling, and a sparse start drawn without
the dense layer. Each rule family is a registry of small functions; the trainer asks them.

    prune      pruning rules (one @rule function each) -> keep-masks; the cut's random stream;
               KeepMask; dead-unit compaction; churn (how much of a mask a rewiring replaced)
    rewire     rewiring rules (one @rewiring grow function each: SET, RigL); one rewiring of an engine
    schedule   when the pattern changes: gradual cuts (cubic), RigL's cosine, the steps they happen at
    init       initial weights (post, he, glorot), rescaled to each unit's fan-in when sparse
    start      a wide layer cut at step 0 drawn sparse (exact counts, O(survivors)), never dense
    structure  the cut, a gradual schedule's cuts and a rewiring, applied to an engine

May import: engine (SparseNet; the reference forward and backward behind RigL's gradient) and
errors; never config, stats, training or anything above them. A new pruning rule goes in
prune.py, a new rewiring rule in rewire.py. tests/test_project.py holds these arrows.
"""
