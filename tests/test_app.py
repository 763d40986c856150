"""The dashboard without a browser: widget values take the right path (new run / preview /
live step / live re-run), Run never starts two runs, the history and the what-if chart fill
in, a link sets the controls, every error lands in the status line, export writes what it
promises. Real trainer, real data."""

import asyncio
import html
import os
import time

import numpy as np
import pytest

from explorer import RunConfig
from explorer.app import Explorer
from explorer.app.link import query_from_config, settings_from_query, train_command
from explorer.app.runner import Pace


@pytest.fixture
def app():
    return Explorer(dataset="digits", hidden=(16,), burn_in=40, steps=600, live=False)


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
    step, frames = app.trainer.state.step, app.board.frames
    labels, thresholds = [], []
    for k in (2, 3, 4):
        app.controls["prune"].slider.value = k  # its latency is measured in benchmarks/bench_views.py
        a = np.abs(app.trainer.weights(0))
        assert app.views["weights"].fig.data[2].x[0] == pytest.approx(np.sort(a.ravel())[::-1][
            int(app.views["weights"].kept[1]) - 1])
        labels.append(app.controls["kept"].value)
        thresholds.append(app.views["weights"].fig.data[2].x[0])
    assert app.trainer.state.step == step and app.board.frames == frames  # no training, no other view drawn
    assert len(set(labels)) == 3 and thresholds == sorted(thresholds)
    assert app.trainer.config.prune == "halving:4"  # the cut to come uses the slider's rule
    app.controls["prune"].kind.value = "fraction"
    assert app.trainer.config.prune == app.controls["prune"].value == "fraction:0.9"
    assert "would keep" in app.controls["kept"].value and app.trainer.state.step == step


def test_lr_applies_live_and_is_marked(app):
    app.run_sync(steps=100)
    app.controls["lr"].value = 0.05
    assert app.trainer.lr == pytest.approx(0.05) and app.trainer.state.step == 100
    app.run_sync(steps=10)
    assert app.trainer.lr_changes_[-1] == (100, pytest.approx(0.05))
    assert any(e["event"] == "lr" and e["step"] == 100 for e in app.board.events)
    assert "lr 0.05 since step 100" in app.status.value


def test_bad_input_goes_to_the_status_line(app, tmp_path):
    app.controls["hidden"].value = "12,abc"
    assert "error" in app.status.value and "hidden" in app.status.value
    app.controls["hidden"].value = "16"
    assert "ready" in app.status.value
    app.controls["prune_layers"].value = "5"
    assert "layer 5 does not exist" in app.status.value
    app.controls["prune_layers"].value = "0"
    # files: a folder where the config file should be, a binary config, an export onto a file
    (tmp_path / "dir.json").mkdir()
    assert app.save_config(tmp_path / "dir.json") is None and "is a folder" in app.status.value
    (tmp_path / "bin.json").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    assert app.load_config(tmp_path / "bin.json") is None and "not UTF-8" in app.status.value
    (tmp_path / "file").write_text("x")
    assert app.export(tmp_path / "file", formats=("html",)) == [] and "export failed" in app.status.value
    assert "\n" not in app.last_error


@pytest.mark.parametrize("kw, words", [(dict(hidden="abc"), "hidden"), (dict(prune="keep:0"), "keep"),
                                       (dict(lr=-1), "lr")])
def test_bad_constructor_input_is_shown_in_the_page(kw, words):
    app = Explorer(dataset="digits", live=False, **kw)
    assert "error" in app.status.value and words in app.status.value
    assert app.trainer is not None  # the defaults are set up instead


def test_keep_rules_have_a_control():
    app = Explorer(dataset="digits", hidden=(16,), prune="keep:100", live=False)
    assert app.controls["prune"].value == "keep:100" and app.trainer.config.prune == "keep:100"


def test_run_twice_starts_one_run_and_pause_stop_work(app):
    app.controls["steps"].value = 1_000_000  # long enough that the pause lands mid-run on any machine

    async def scenario():
        first = app.run(pace="fast")
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
        assert "stopped" in app.status.value
    asyncio.run(scenario())


def test_a_failure_mid_run_or_after_a_click_stays_in_the_status_line(app):
    """A view that fails while drawing (a failure injected into one view, not into the
    dashboard): Stop -- whose final evaluation redraws every view -- says so in the status line,
    no traceback; a run it breaks ends with the error there, not covered by the step line."""
    app.controls["steps"].value = 1_000_000  # long enough that the pause lands mid-run on any machine

    def broken(*args, **kwargs):
        raise ValueError("draw failed")

    async def paused():
        task = app.run(pace="fast")
        await asyncio.sleep(0.05)
        app.pause()
        await task
    asyncio.run(paused())
    app.views["speed"].draw = broken
    app.controls["stop"].click()
    assert "draw failed" in app.status.value and "\n" not in app.last_error
    del app.views["speed"].draw  # the view's own again
    app.reset()

    async def breaks():
        task = app.run(pace="fast")
        await asyncio.sleep(0.05)
        app.views["speed"].draw = broken
        await task
    asyncio.run(breaks())
    assert not app.running and "error" in app.status.value and "draw failed" in app.status.value


def test_watch_pace_plays_the_burn_in_and_the_cut_frame_by_frame():
    app = Explorer(dataset="digits", hidden=(16,), burn_in=40, steps=300, live=False)
    drawn, frame = [], app.board.frame

    def watched(force=False):  # the real frame; we note the step each drawn frame showed
        ok = frame(force)
        if ok:
            drawn.append(app.trainer.state.step)
        return ok
    app.board.frame = watched

    async def scenario():
        t0 = time.perf_counter()
        await app.run(pace="quick")
        return time.perf_counter() - t0
    elapsed = asyncio.run(scenario())
    steps = {r["step"] for r in app.board.records}
    assert app.trainer.done and "done" in app.status.value
    assert len([s for s in steps if s <= 40]) >= 10  # the burn-in recorded step by step (log-spaced)
    # The clock, not the machine, sets the frames: the 3 s run draws at a good share of the
    # 6-a-second rate (a count, not a timing: it follows from however long the run took), and
    # the burn-in (two thirds of the log clock) is several frames, not one jump.
    assert app.board.frames >= elapsed * app.board.fps / 3
    assert len({s for s in drawn if s <= 40}) >= 4 and drawn == sorted(drawn)


def test_pace_clock_is_logarithmic_then_even():
    p = Pace(30_200, "watch")
    assert p.time_at(0) == 0 and p.time_at(1000) == pytest.approx(4.0) and p.time_at(30_200) == pytest.approx(8.0)
    assert p.time_at(10) == pytest.approx(4.0 * np.log(11) / np.log(1001))  # 10 steps take a third of the 4 s
    for t in (0.5, 2.0, 3.9, 4.5, 7.9):  # step_at is the last step the clock has reached at time t
        s = p.step_at(t)
        assert p.time_at(s) <= t + 1e-9 < p.time_at(s + 1)
    assert not Pace(100, "fast").paced


def test_full_run_with_dense_reference(app):
    app.controls["compare"].value = True
    app.run_sync()
    assert app.trainer.done and app.ref_trainer.done
    acc = app.views["accuracy"].fig.data
    assert acc[1].y[-1] == app.trainer.results_["test_accuracy"]
    assert acc[3].y[-1] == app.ref_trainer.results_["test_accuracy"]
    assert "done" in app.status.value


def test_live_reruns_fill_the_history_and_revisits_are_instant():
    app = Explorer(dataset="digits", hidden=(16,), burn_in=40, steps=300, live=True)
    assert app.controls["live"].value  # a short run: live by default
    app.controls["burn_in"].value = 0  # no loop here: the re-run happens at once
    first = app.trainer
    assert first.done and first.config.burn_in == 0 and len(app.history) == 1
    app.controls["burn_in"].value = 50
    assert app.trainer.done and len(app.history) == 2
    app.controls["burn_in"].value = 0  # back to a setting already run: shown from the history
    assert app.trainer is first and len(app.history) == 2 and "from the history" in app.status.value
    assert "<td>2</td>" in app.history_panel.table.value
    assert len(app.history_panel.fig.data) == 2  # one accuracy curve per run
    app.whatif.refresh(app.history, app.trainer.config)
    assert list(app.whatif.fig.data[4].x) == [0, 50]  # accuracy against the burn-in


def test_fill_in_runs_the_cuts_random_controls_and_burn_ins(tmp_path):
    app = Explorer(dataset="digits", hidden=(8,), burn_in=20, steps=100, prune="halving:2", live=False)
    app.fill_in()
    prunes = [e.config.prune for e in app.history]
    assert "none" in prunes and "halving:6" in prunes
    assert any(p.startswith("random:") for p in prunes)  # a random cut as large as a magnitude cut
    assert {0, 50, 200} <= {e.config.burn_in for e in app.history}
    f = app.whatif.fig
    assert len(f.data[0].x) >= 5 and len(f.data[1].x) >= 5 and len(f.data[2].x) == 2
    app.controls["folder"].value = str(tmp_path)
    path = app.export_history()
    assert path.read_text().count("\n") == len(app.history) + 1


def test_a_link_sets_the_controls_and_names_what_it_refused():
    app = Explorer(dataset="digits", live=False,
                   query="burn_in=10&prune=halving:3&hidden=32&data_dir=/etc&lr=abc&bogus=1&steps=500")
    cfg = app.trainer.config
    assert (cfg.burn_in, cfg.prune, cfg.hidden, cfg.steps) == (10, "halving:3", (32,), 500)
    assert app.controls["burn_in"].value == 10 and app.controls["hidden"].value == "32"
    for words in ("'data_dir' cannot be set from a link", "'bogus' is not a setting", "lr='abc'"):
        assert words in html.unescape(app.status.value)
    assert cfg.data_dir is None and cfg.lr == 0.01


def test_link_round_trip_and_command():
    cfg = RunConfig(dataset="digits", hidden=(64, 32), burn_in=0, prune="fraction:0.9", prune_layers="all")
    q = query_from_config(cfg)
    assert "hidden=64x32" in q and "prune=fraction:0.9" in q and "data_dir" not in q
    back, problems = settings_from_query(q)
    assert back == cfg and problems == []
    cmd = train_command(cfg)
    assert cmd == ("explorer train --dataset digits --hidden 64x32 --burn-in 0 --prune fraction:0.9 "
                   "--prune-layers all")
    from explorer.cli import build_parser, config_from_args

    assert config_from_args(build_parser().parse_args(cmd.split()[1:])) == cfg


def test_share_shows_the_voila_link(monkeypatch):
    monkeypatch.setenv("VOILA_REQUEST_URL", "http://127.0.0.1:8866/?burn_in=5")
    app = Explorer(dataset="digits", hidden=(16,), burn_in=30, live=False, query="")
    text = app.share()
    assert "link: http://127.0.0.1:8866/?dataset=digits&hidden=16&burn_in=30" in text
    assert "command: explorer train --dataset digits --hidden 16 --burn-in 30" in text
    assert "eval_every" not in text  # the dashboard's own evaluation schedule is not a setting of the user's


def test_export_writes_the_promised_files(app, tmp_path):
    app.run_sync()
    paths = app.export(tmp_path / "figs", formats=("html", "png", "svg"))
    names = {p.name for p in paths}
    for v in list(app.views) + ["whatif", "runs"]:
        assert f"{v}.html" in names
    assert {"config.json", "results.json"} <= names
    if app.export_note is None:  # Chrome found: static images too
        for v in app.views:
            png, svg = (tmp_path / "figs" / f"{v}.png").read_bytes(), (tmp_path / "figs" / f"{v}.svg").read_text()
            assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
            assert "<svg" in svg[:500] and len(svg) > 5_000
    assert RunConfig.from_json(tmp_path / "figs" / "config.json") == app.trainer.config
    assert oct(os.stat(tmp_path / "figs" / "config.json").st_mode & 0o777) != "0o600"


def test_save_and_load_config(app, tmp_path):
    app.controls["seed"].value = 3
    app.controls["prune"].slider.value = 2
    path = app.save_config(tmp_path / "c.json")
    other = Explorer(dataset="digits", live=False)
    cfg = other.load_config(path)
    assert cfg.seed == 3 and cfg.prune == "halving:2" and other.trainer.config.seed == 3
    assert other.controls["seed"].value == 3 and other.controls["prune"].value == "halving:2"
    assert other.controls["hidden"].value == "16"
