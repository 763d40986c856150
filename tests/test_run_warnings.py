"""Runs that look fine but are not say so (issue 11): a cut that leaves a layer with no weights,
a run that ends no better than where training starts (here: trained to chance by a far too
large learning rate). Marked in the results (`warnings`), warned once, one line each in the CLI."""

import pytest

from explorer import RunConfig, Trainer
from explorer.cli import main
from explorer.data import load


@pytest.fixture(scope="module")
def digits():
    return load("digits", verbose=False)


def test_a_cut_that_leaves_nothing_is_marked(digits):
    with pytest.warns(RuntimeWarning, match="no weights"):
        t = Trainer(RunConfig(dataset="digits", hidden=(32,), prune="threshold:1e9", steps=100)).fit(digits)
    w = t.results_["warnings"]
    assert t.results_["weights_alive"][0] == 0 and any("left weight layer 0 with no weights" in x for x in w)


def test_a_run_trained_to_chance_is_marked(digits, capsys):
    cfg = RunConfig(dataset="digits", hidden=(32,), activation="relu", init="he", lr=1000, prune="none", steps=300)
    with pytest.warns(RuntimeWarning, match="no better than where it started"):
        t = Trainer(cfg).fit(digits)
    assert any("lower the learning rate (lr=1000)" in x for x in t.results_["warnings"])
    assert main(["train", "--dataset", "digits", "--hidden", "32", "--activation", "relu", "--init", "he",
                 "--lr", "1000", "--prune", "none", "--steps", "300"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [l for l in err if l.startswith("explorer: warning: ")] and len(err) == 1


def test_a_run_that_learns_has_no_warnings(digits):
    cfg = RunConfig(dataset="digits", hidden=(32,), init_scale=0.1, lr=0.05, steps=2000)
    assert Trainer(cfg).fit(digits).results_["warnings"] == []
