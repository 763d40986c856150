"""Behaviour is pinned: a fixed set of runs (tests/reference/cases.py: dense and sparse, batch 1
and 64, numba and scipy, tanh and relu, one and two hidden layers, every pruning rule, split
steps with hooks, the post's headline run) against the numbers recorded before the issue-10
refactor. On the machine kind they were recorded on (same CPU, SIMD flags, library versions)
the results must be equal to the bit; elsewhere to float tolerance (numpy's SIMD tanh, the
BLAS kernels and numba's vectorised loops round differently on other CPUs)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

HERE = Path(__file__).resolve().parent / "reference"
sys.path.insert(0, str(HERE))
import cases  # noqa: E402

REF = json.loads((HERE / "reference.json").read_text())
ARRAYS = np.load(HERE / "reference.npz")
SAME_MACHINE = cases.fingerprint() == REF["fingerprint"]


@pytest.mark.parametrize("name", list(cases.CASES))
def test_results_equal_the_recorded_reference(name):
    out = cases.run_case(name)
    if out is None:
        pytest.skip(f"{name}: its data set is not on this machine")
    got, arrays = out
    want = REF["cases"][name]
    assert got["weights_alive"] == want["weights_alive"] and got["hidden_alive"] == want["hidden_alive"]
    assert got["steps_done"] == want["steps_done"]
    if SAME_MACHINE:
        for key, value in want.items():
            if key == "loss_total":  # see below
                continue
            if key == "final_batch_loss":
                # The weights (sha256 of every layer), test loss and accuracy are checked to the
                # bit; the last step's batch loss once came out an ulp apart in a full-suite run
                # here (2.4243168575235385 vs ...539, threshold-tanh-b1, weights identical), which
                # 40 repeats in one process under load and every run alone did not reproduce.
                assert abs(got[key] - value) <= 2 * np.spacing(value), f"{name}: {key} moved from {value} " \
                                                                        f"to {got[key]}"
                continue
            assert got[key] == value, f"{name}: {key} moved from {value} to {got[key]}"
        # The one number the refactor moved on purpose: the running sum of batch losses (what the
        # interval-mean loss curves are made of) is now added per chunk with np.sum in both phases;
        # the dense phase used to add step by step, so its sums differ in the last digits.
        assert got["loss_total"] == pytest.approx(want["loss_total"], rel=1e-13, abs=0)
        return
    # another CPU or library build: the same computation, rounded differently
    assert abs(got["test_accuracy"] - want["test_accuracy"]) <= 0.01
    assert got["test_loss"] == pytest.approx(want["test_loss"], rel=1e-3)
    if name in ("headline-fashion",):
        return
    for key, w in arrays.items():
        np.testing.assert_allclose(w, ARRAYS[key], rtol=1e-6, atol=1e-8, err_msg=f"{name}: {key}")
