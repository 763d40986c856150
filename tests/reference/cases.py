"""The fixed set of runs whose results are recorded in reference.npz / reference.json.

Recorded once, before the architecture refactor (issue 10), with `python tests/reference/cases.py
--record`; tests/test_reference.py re-runs every case and compares. Only the public API is
used (RunConfig, Trainer, fit, results_, weights, state, Callback), so the cases outlive any
reshaping of the internals.

Bit-identity is a property of one machine: numpy's SIMD tanh, OpenBLAS's dgemm kernels and
numba's vectorised loops all depend on the CPU. `fingerprint()` names what the numbers depend
on; on a machine with the recorded fingerprint the test demands equal bits, elsewhere equal
values to a tight tolerance.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
FASHION = Path("/usr/share/datasets/fashion-mnist")


def _digits(**kw):
    base = dict(dataset="digits", hidden=(32,), burn_in=100, prune="halving:3", steps=400, batch_size=1,
                lr=0.05, seed=3, init_scale=0.1)
    base.update(kw)
    return base


# name -> (RunConfig fields, hooks) ; hooks: None, or "split" (a step-split callback with gradients
# every 7 steps and evaluations every 50: the split path and mid-run evaluation)
CASES = {
    "dense-tanh-b1": (_digits(prune="none"), None),
    "halving3-tanh-b1-numba": (_digits(engine="numba"), None),
    "halving3-tanh-b1-scipy": (_digits(engine="scipy"), None),
    "fraction-relu-b64-numba": (_digits(activation="relu", init="post", prune="fraction:0.8", batch_size=64, lr=0.1,
                                        engine="numba"), None),
    "fraction-relu-b64-scipy": (_digits(activation="relu", init="post", prune="fraction:0.8", batch_size=64, lr=0.1,
                                        engine="scipy"), None),
    "dense-relu-b64-2layers": (_digits(activation="relu", init="post", hidden=(32, 16), prune="none", batch_size=64,
                                       lr=0.1), None),
    "keep-tanh-b1-2layers-all": (_digits(hidden=(32, 16), prune="keep:500", prune_layers="all"), None),
    "keep-relu-b64-2layers-global": (_digits(activation="relu", init="post", hidden=(32, 16), prune="keep:900",
                                             prune_layers="all", prune_scope="global", batch_size=64,
                                             lr=0.1), None),
    "threshold-tanh-b1": (_digits(prune="threshold:0.02", lr=0.1), None),
    "random-relu-b64-2layers-numba": (_digits(activation="relu", init="post", hidden=(32, 16), prune="random:0.9",
                                              prune_layers=(0, 1), batch_size=64, lr=0.1, engine="numba"), None),
    "random-tanh-b1-scipy": (_digits(prune="random:0.9", engine="scipy"), None),
    "cut-at-step-0-b2": (_digits(burn_in=0, prune="fraction:0.7", batch_size=2), None),
    "halving2-b4-hooks": (_digits(hidden=(16,), burn_in=20, prune="halving:2", steps=60, batch_size=4,
                                  eval_every=50), "split"),
    "halving2-b1-hooks-scipy": (_digits(hidden=(16,), burn_in=20, prune="halving:2", steps=60, engine="scipy",
                                        eval_every=50), "split"),
    "dense-b1-hooks": (_digits(hidden=(16,), burn_in=20, prune="none", steps=60, eval_every=50), "split"),
    # the post's headline run on real Fashion-MNIST (skipped where Debian's copy is missing)
    "headline-fashion": (dict(dataset="fashion-mnist"), None),
}


def fingerprint() -> dict:
    import numba
    import scipy
    import scipy.linalg  # noqa: F401 -- loads scipy's own OpenBLAS, so threadpoolctl sees it
    from threadpoolctl import threadpool_info

    flags = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    blas = sorted(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in threadpool_info()
                  if i.get("user_api") == "blas")
    return {"cpu": model, "simd": sorted(f for f in flags if f in ("avx2", "fma", "avx512f", "avx512dq",
                                                                   "avx512vl", "avx512bw")),
            "numpy": np.__version__, "scipy": scipy.__version__, "numba": numba.__version__,
            "python": platform.python_version(), "blas": blas}


def _hooks():
    from explorer import Callback

    class Split(Callback):  # overrides on_step_begin/on_after_backward: the trainer splits its due steps
        every = 7
        needs_gradients = True

        def __init__(self):
            self.grad_sums = []

        def on_step_begin(self, t):
            pass

        def on_after_backward(self, t):
            g = t.state.layers[0].grad_values
            self.grad_sums.append(float(np.sum(g)) if g is not None else None)

    return Split()


def run_case(name: str):
    """(scalars, {array name: array}) of one case; None when its data is not on this machine."""
    from explorer import RunConfig, Trainer
    from explorer.data import load

    fields, hooks = CASES[name]
    if fields["dataset"] == "fashion-mnist" and not FASHION.is_dir():
        return None
    cfg = RunConfig(**fields)
    data = load(cfg.dataset, verbose=False)
    cbs = [_hooks()] if hooks == "split" else []
    t = Trainer(cfg, callbacks=cbs).fit(data)
    r = t.results_
    scalars = {k: r[k] for k in ("test_accuracy", "test_loss", "final_batch_loss", "weights_alive",
                                 "hidden_alive", "steps_done")}
    scalars["loss_total"] = t.state.loss_total
    if cbs:
        scalars["grad_sums"] = cbs[0].grad_sums
    arrays = {}
    for l in range(len(cfg.hidden) + 1):
        w = np.ascontiguousarray(t.weights(l), dtype=np.float64)
        scalars[f"sha256_w{l}"] = hashlib.sha256(w.tobytes()).hexdigest()
        arrays[f"{name}/w{l}"] = w
    return scalars, arrays


def record() -> None:
    scalars, arrays = {}, {}
    for name in CASES:
        out = run_case(name)
        if out is None:
            sys.exit(f"case {name}: its data set is not on this machine; record where it is")
        scalars[name], a = out
        arrays.update(a)
        print(f"{name}: accuracy {scalars[name]['test_accuracy']:.4f}")
    (HERE / "reference.json").write_text(json.dumps({"fingerprint": fingerprint(), "cases": scalars}, indent=1)
                                         + "\n")
    np.savez_compressed(HERE / "reference.npz", **arrays)


if __name__ == "__main__":
    if "--record" in sys.argv:
        record()
    else:
        print(json.dumps(fingerprint(), indent=1))
