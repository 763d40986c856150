"""The engine: the MLP's math and how a chunk of SGD steps is done on its weights -- dense
(numpy, BLAS), sparse (numba kernels, or the scipy reference) and masked dense. It is handed
weights, masks and batches; it knows nothing of rules, settings or runs.

    net        the readable reference math (numpy/scipy): layers, forward, backward, the update, SparseNet
    engines    DenseEngine / SparseEngine: the weights of a run and a chunk of steps on them
    masked     MaskedEngine: a cut net above the break-even density, as dense layers with zeros
    blas       in-place BLAS updates; how many BLAS threads a run gets
    kernels    numba: the fused sparse steps at any batch, the batched forward and evaluation
    b1         numba: the batch-1 sparse kernel (the post's setting), reached through kernels.sparse_steps
    wide       numba: one wide ReLU level trained a hidden unit at a time
    kmath      numba: the kernels' shared math (output delta, f', the update), one definition each
    dropout    dropout masks from a counter-based hash, the same in every engine

May import: nothing of explorer outside this package. Inside it, the numba kernels (kmath,
dropout, kernels, b1, wide) import only each other; net, engines and masked call them.
A new kernel goes beside them on kmath's helpers. tests/test_project.py holds these arrows.
"""
