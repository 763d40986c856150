"""SET-MLP's own code and explorer side by side, on this machine: time per training sample.

    git clone https://github.com/dcmocanu/sparse-evolutionary-artificial-neural-networks /tmp/set-mlp
    pip install cython
    python benchmarks/bench_setmlp.py /tmp/set-mlp [--epochs 20] [--repeats 3]

The net of bench_dst.py's table 3 (Mocanu et al.'s tutorial protocol: Fashion-MNIST, 2,000
training samples, 784-1000-1000-1000-10 ReLU, epsilon 13, batch 40, lr 0.05, momentum 0.9,
weight decay 2e-4, dropout 0.2, zeta 0.3 once per epoch). Their code is the checkout's
Tutorial-ECMLPKDD-2019-Scalable-Deep-Learning/set_mlp.py with its Cython kernel, compiled here
into a temporary folder; it is run as it is, with three shims for today's libraries: numpy 2
has no `np.in1d` (np.isin is the same), its `fit` reads a global `batchSize` of their script,
and today's scipy shares the data array in `coo_matrix(csr)`, so their gradient kernel would
write into the weights (it then learns nothing) -- the shim copies, as their scipy did. Time:
their own clock of each epoch's training loop (rewiring and testing not counted), explorer's
clock of its training phase (`seconds["train"]`, rewiring apart); each in a fresh process,
the two alternating; medians. Their first epoch is dropped (warm-up).

The issue's target (<= 40 us/sample where SET-MLP's code took 140-165) is a ratio of ~3.5-4.1x;
this script measures that ratio on any machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

from bench_dst import SETMLP
from report import cpu_name, table

TUTORIAL = "Tutorial-ECMLPKDD-2019-Scalable-Deep-Learning"


def build(repo: Path, into: Path) -> None:
    """Their set_mlp.py and sparseoperations.pyx copied into `into`, the kernel compiled there."""
    src = repo / TUTORIAL
    for f in ("set_mlp.py", "sparseoperations.pyx"):
        if not (src / f).is_file():
            sys.exit(f"bench_setmlp: error: {src / f} not found; pass the folder of a clone of "
                     "https://github.com/dcmocanu/sparse-evolutionary-artificial-neural-networks")
        shutil.copy(src / f, into / f)
    import numpy as np

    try:
        subprocess.run([sys.executable, "-m", "cython", "sparseoperations.pyx"], cwd=into, check=True,
                       capture_output=True)
    except subprocess.CalledProcessError as e:
        sys.exit(f"bench_setmlp: error: cython failed ({e.stderr.decode().strip()[-200:] or 'pip install cython'})")
    so = "sparseoperations" + sysconfig.get_config_var("EXT_SUFFIX")
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    subprocess.run([*cc, "-O3", "-shared", "-fPIC", f"-I{np.get_include()}", f"-I{sysconfig.get_paths()['include']}",
                    "sparseoperations.c", "-o", so], cwd=into, check=True, capture_output=True)


def setmlp_worker(folder: str, epochs: int) -> dict:
    """In a fresh process: their SET_MLP on Fashion-MNIST; per-epoch training seconds from their own prints."""
    import contextlib
    import io
    import re

    import numpy as np
    import scipy.sparse as sp

    from explorer.data import load

    sys.path.insert(0, folder)
    np.in1d = lambda a, b, **kw: np.isin(np.ravel(a), b, **kw)  # removed in numpy 2.4; the same result
    import set_mlp as S

    S.batchSize = 40  # their fit() reads this global of their own __main__
    S.coo_matrix = lambda *a, **kw: sp.coo_matrix(*a, **{"copy": True, **kw})  # see the module's docstring
    d = load("fashion-mnist", verbose=False)
    rng = np.random.default_rng(0)
    idx = rng.permutation(d.n_train)[:2000]
    X, Y = np.asarray(d.X_train[idx], np.float64), np.eye(10)[np.asarray(d.y_train)[idx]]
    Xt, Yt = np.asarray(d.X_test[:1000], np.float64), np.eye(10)[np.asarray(d.y_test)[:1000]]
    np.random.seed(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        net = S.SET_MLP((784, 1000, 1000, 1000, 10), (S.Relu, S.Relu, S.Relu, S.Sigmoid), epsilon=13)
        net.fit(X, Y, Xt, Yt, loss=S.MSE, epochs=epochs, batch_size=40, learning_rate=0.05, momentum=0.9,
                weight_decay=2e-4, zeta=0.3, dropoutrate=0.2, testing=False, save_filename=os.path.join(folder, "run"))
        acc = net.predict(Xt, Yt, 40)[0]

    def seconds(t):
        h, m, s = t.split(":")
        return 3600 * int(h) + 60 * int(m) + float(s)

    train = [seconds(t) for t in re.findall(r"Training time:\s+(\S+)", out.getvalue())][1:]
    return dict(us=1e6 * statistics.median(train) / 2000, accuracy=acc,
                weights=[int(net.w[i].nnz) for i in range(1, 5)])


def explorer_worker(epochs: int) -> dict:
    from explorer import RunConfig, Trainer
    from explorer.data import load

    steps = epochs * 50
    r = Trainer(RunConfig(**SETMLP, steps=steps, seed=0)).fit(load("fashion-mnist", verbose=False)).results_
    return dict(us=1e6 * r["seconds"]["train"] / (steps * 40), accuracy=r["test_accuracy"], weights=r["weights_alive"])


def run(args: list) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"bench_setmlp: error: a worker failed: {out.stderr.strip().splitlines()[-1:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("repo", help="a clone of dcmocanu/sparse-evolutionary-artificial-neural-networks")
    p.add_argument("--epochs", type=int, default=20, help="epochs of 2,000 samples per process (default 20)")
    p.add_argument("--repeats", type=int, default=3, help="processes per implementation, alternating (default 3)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="set-mlp-") as tmp:
        build(Path(a.repo), Path(tmp))
        got = {"SET-MLP (their code)": [], "explorer": []}
        for _ in range(a.repeats):
            got["SET-MLP (their code)"].append(run(["--setmlp-worker", tmp, str(a.epochs)]))
            got["explorer"].append(run(["--explorer-worker", str(a.epochs)]))
    med = {k: statistics.median(x["us"] for x in v) for k, v in got.items()}
    rows = [[k, f"{med[k]:.1f}", ", ".join(f"{x['us']:.1f}" for x in v), f"{v[0]['accuracy']:.3f}", v[0]["weights"]]
            for k, v in got.items()]
    ratio = med["SET-MLP (their code)"] / med["explorer"]
    table(f"SET-MLP's protocol, {a.epochs} epochs per process, {a.repeats} processes each ({cpu_name()}): explorer "
          f"{ratio:.1f}x faster per training sample (the issue's target: ~3.5-4.1x)",
          ["implementation", "us/sample (median)", "per process", f"test accuracy after {a.epochs} epochs",
           "weights per layer"], rows)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--setmlp-worker":
        print(json.dumps(setmlp_worker(sys.argv[2], int(sys.argv[3])), default=float))
    elif len(sys.argv) > 1 and sys.argv[1] == "--explorer-worker":
        print(json.dumps(explorer_worker(int(sys.argv[2])), default=float))
    else:
        main()
