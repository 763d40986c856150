"""The dashboard without a browser: widget values take the right path (reset / preview /
live), Run never starts two runs, export writes what it promises. Real trainer, real data."""

import asyncio

import numpy as np
import pytest

from explorer import RunConfig
from explorer.app import Explorer


@pytest.fixture
def app():
    return Explorer(dataset="digits", hidden=(16,), burn_in=40, steps=600)


def test_structural_change_resets_the_run(app):
    app.run_sync(steps=100)
    assert app.trainer.state.step == 100
    old = app.trainer
    app.controls["hidden"].value = "24"
    assert app.trainer is not old and app.trainer.state.step == 0
    assert app.trainer.config.hidden == (24,) and app.trainer.state.layers[0].shape == (65, 24)
    app.run_sync(steps=50)
    app.controls["burn_in"].value = 100
    assert app.trainer.state.step == 0 and app.trainer.config.burn_in == 100


def test_prune_slider_previews_without_training(app):
    app.run_sync(steps=20)  # in the burn-in: the cut is still to come
    step, views_draws = app.trainer.state.step, app.views["accuracy"].draws
    labels, thresholds = [], []
    for k in (2, 3, 4):
        app.controls["prune"].slider.value = k  # its latency is measured in benchmarks/bench_views.py
        a = np.abs(app.trainer.weights(0))
        assert app.views["weights"].fig.data[2].x[0] == pytest.approx(np.sort(a.ravel())[::-1][
            int(app.views["weights"].kept[1]) - 1])
        labels.append(app.controls["kept"].value)
        thresholds.append(app.views["weights"].fig.data[2].x[0])
    assert app.trainer.state.step == step  # no retraining
    assert app.views["accuracy"].draws == views_draws
    assert len(set(labels)) == 3 and thresholds == sorted(thresholds)
    assert app.trainer.config.prune == "halving:4"  # the cut to come uses the slider's rule
    app.controls["prune"].kind.value = "fraction"
    assert app.trainer.config.prune == app.controls["prune"].value == "fraction:0.9"
    assert "kept" in app.controls["kept"].value and app.trainer.state.step == step


def test_lr_applies_live(app):
    app.run_sync(steps=100)
    app.controls["lr"].value = 0.05
    assert app.trainer.lr == pytest.approx(0.05) and app.trainer.state.step == 100
    app.run_sync(steps=10)
    assert app.trainer.lr_changes_[-1] == (100, pytest.approx(0.05))


def test_bad_input_goes_to_the_status_line(app):
    app.controls["hidden"].value = "12,abc"
    assert "error" in app.status.value and "hidden" in app.status.value
    app.controls["hidden"].value = "16"
    assert "ready" in app.status.value
    app.controls["prune_layers"].value = "5"
    assert "layer 5 does not exist" in app.status.value


def test_run_twice_starts_one_run_and_pause_stop_work(app):
    app.controls["steps"].value = 1_000_000  # long enough that the pause lands mid-run on any machine

    async def scenario():
        first = app.run()
        second = app.run()  # a double click
        assert first is not None and second is None and app.running
        await asyncio.sleep(0.05)
        app.controls["lr"].value = 0.02  # a slider mid-run is handled between chunks
        app.pause()
        await first
        assert not app.running and 0 < app.trainer.state.step < app.trainer.total_steps
        assert app.trainer.lr == pytest.approx(0.02)
        app.stop()
        assert app.trainer.done and app.trainer.results_["stopped_early"]
    asyncio.run(scenario())


def test_full_run_with_dense_reference(app):
    app.controls["compare"].value = True
    app.run_sync()
    assert app.trainer.done and app.ref_trainer.done
    acc = app.views["accuracy"].fig.data
    assert acc[1].y[-1] == app.trainer.results_["test_accuracy"]
    assert acc[3].y[-1] == app.ref_trainer.results_["test_accuracy"]
    assert "done" in app.status.value


def test_export_writes_the_promised_files(app, tmp_path):
    app.run_sync()
    paths = app.export(tmp_path / "figs", formats=("html", "png", "svg"))
    names = {p.name for p in paths}
    for v in app.views:
        assert f"{v}.html" in names
    assert {"config.json", "results.json"} <= names
    if app.export_note is None:  # Chrome found: static images too
        for v in app.views:
            png, svg = (tmp_path / "figs" / f"{v}.png").read_bytes(), (tmp_path / "figs" / f"{v}.svg").read_text()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
            assert "<svg" in svg[:500] and len(svg) > 5_000
    assert RunConfig.from_json(tmp_path / "figs" / "config.json") == app.trainer.config


def test_save_and_load_config(app, tmp_path):
    app.controls["seed"].value = 3
    app.controls["prune"].slider.value = 2
    path = app.save_config(tmp_path / "c.json")
    other = Explorer(dataset="digits")
    cfg = other.load_config(path)
    assert cfg == app.trainer.config and other.trainer.config == cfg
    assert other.controls["seed"].value == 3 and other.controls["prune"].value == "halving:2"
    assert other.controls["hidden"].value == "16"
