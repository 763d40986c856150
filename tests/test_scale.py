"""A sparse start's draw (start.py) against the dense path it stands for: exact counts, no
duplicates, uniform positions, the same distribution of kept values for every rule and init
(what the dense path keeps, measured by drawing every weight and cutting); its compaction.
The runs themselves: tests/test_scale_runs.py."""


import numpy as np
import pytest
from scipy import stats

from explorer.sparsity import start
from explorer.sparsity.prune import compact_positions, keep_flat, parse_rule

SHAPE = (40, 30)  # N = 1,200


# -- the draw -------------------------------------------------------------------------------
@pytest.mark.parametrize("size,n", [(1000, 0), (1000, 1), (1000, 37), (1000, 499), (1000, 500), (1000, 501),
                                    (1000, 999), (1000, 1000), (10**12, 5000)])
def test_positions_are_exactly_n_distinct_sorted_in_range(size, n):
    p = start.sample_positions(size, n, np.random.default_rng(n))
    assert p.dtype == np.int64 and len(p) == n and len(np.unique(p)) == n and np.all(np.diff(p) > 0)
    assert n == 0 or (p[0] >= 0 and p[-1] < size)


@pytest.mark.parametrize("n", [20, 70])  # the draw-and-top-up path, and the complement above half the range
def test_positions_are_uniform(n):
    size, reps = 100, 4000
    rng = np.random.default_rng(0)
    counts = np.zeros(size)
    for _ in range(reps):
        counts[start.sample_positions(size, n, rng)] += 1
    p = n / size  # each position's count is binomial(reps, p); the counts sum to reps * n
    chi2 = float(np.sum((counts - reps * p) ** 2) / (reps * p * (1 - p))) * (size - 1) / size
    assert stats.chi2.sf(chi2, size - 1) > 1e-3


@pytest.mark.parametrize("rule", ["keep:100", "fraction:0.9", "halving:3", "halving:7", "erk:2", "random:0.8",
                                  "keep:5000"])
def test_kept_count_is_the_dense_rules_count(rule):
    r = parse_rule(rule)
    a = np.abs(np.random.default_rng(1).uniform(-1, 1, SHAPE[0] * SHAPE[1]))
    dense = int(keep_flat(a, r, np.random.default_rng(2), SHAPE).sum())
    assert start.kept_count(r, SHAPE, "post", 1.0, np.random.default_rng(3)) == dense


def _dense_kept_values(rule, kind, reps, seed=0):
    """What the dense path keeps (before compaction and rescaling): draw every weight, cut."""
    rng = np.random.default_rng(seed)
    vals = []
    for _ in range(reps):
        from explorer.sparsity.init import init_weights

        w = init_weights([SHAPE[0], SHAPE[1]], kind, 0.1, rng)[0].ravel()
        vals.append(w[keep_flat(np.abs(w), rule, rng, SHAPE)])
    return np.concatenate(vals)


@pytest.mark.parametrize("kind", ["post", "he", "glorot"])
@pytest.mark.parametrize("rule", ["keep:60", "halving:4", "fraction:0.97", "threshold:0.08", "erk:1", "random:0.9"])
def test_drawn_values_have_the_dense_paths_distribution(rule, kind):
    r = parse_rule(rule)
    if r.name == "threshold" and kind == "he":
        r = parse_rule("threshold:0.5")  # he's spread is 0.22 here
    reps = 150
    dense = _dense_kept_values(r, kind, reps)
    prng, vrng = np.random.default_rng(10), np.random.default_rng(11)
    drawn = [start.draw_layer(r, SHAPE, kind, 0.1, prng, vrng) for _ in range(reps)]
    values = np.concatenate([v for _, v in drawn])
    for pos, v in drawn:
        assert len(pos) == len(v) and len(np.unique(pos)) == len(pos)
        if r.name != "threshold":
            assert len(pos) == start.kept_count(r, SHAPE, kind, 0.1, None)
    assert stats.ks_2samp(values, dense).pvalue > 1e-3
    assert abs(len(values) - len(dense)) <= 6 * np.sqrt(len(dense)) + 1  # threshold: binomial counts
    if r.name == "threshold":
        assert np.abs(values).min() >= r.value


def test_top_magnitudes_are_the_top_order_statistics():
    """Tail probabilities of the 10 largest of 1,000 uniforms, against sorting real draws."""
    rng = np.random.default_rng(4)
    direct = np.array([start.top_magnitudes(10, 1000, rng) for _ in range(3000)])
    real = np.array([np.sort(rng.random(1000))[::-1][:10] for _ in range(3000)])
    assert np.all(np.diff(direct, axis=1) > 0)
    for j in (0, 4, 9):
        assert stats.ks_2samp(direct[:, j], 1 - real[:, j]).pvalue > 1e-3


def test_compaction_with_full_layers_equals_compact_positions():
    rng = np.random.default_rng(5)
    shapes = [(30, 50), (50, 40), (40, 6)]
    pos = [np.sort(rng.choice(30 * 50, 60, replace=False)), None, np.sort(rng.choice(40 * 6, 25, replace=False))]
    full = [pos[0], np.arange(50 * 40), pos[2]]
    units, sel = compact_positions(shapes, pos)
    units_ref, sel_ref = compact_positions(shapes, full)
    assert all(np.array_equal(a, b) for a, b in zip(units, units_ref))
    assert np.array_equal(sel[0], sel_ref[0]) and np.array_equal(sel[2], sel_ref[2]) and sel[1] is None
