"""Bad data files, each one line and exit status 2 from `explorer train --dataset FILE`, before
any training: what is wrong, where (line and column for a CSV), and what to do. The same bytes
uploaded (`from_upload`, what the dashboard calls) give the same one line. Real files, written
here from scikit-learn's wine data and numpy; the 2 GB one is sparse (truncate), never written."""

from __future__ import annotations

import pickle
import zipfile

import numpy as np
import pytest
from data_util import write_sklearn_files

from explorer.cli import main
from explorer.data import DataError, from_upload


@pytest.fixture(scope="module")
def wine_lines(tmp_path_factory):
    return write_sklearn_files(tmp_path_factory.mktemp("sk"))["wine.csv"].read_text().splitlines()


def _cell(lines, row, col, value):
    out = list(lines)
    cells = out[row].split(",")
    cells[col] = value
    out[row] = ",".join(cells)
    return "\n".join(out) + "\n"


def _bomb(path):
    """An .npz whose X declares 2.4 GB, written compressed in ~3 MB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open("X.npy", "w", force_zip64=True) as m:
            np.lib.format.write_array_header_1_0(m, {"descr": "<f8", "fortran_order": False,
                                                     "shape": (300_000, 1000)})
            zeros = bytes(8_000_000)
            for _ in range(300):
                m.write(zeros)
        with z.open("y.npy", "w") as m:
            np.save(m, np.zeros(300_000))


def _million_classes(path):
    with open(path, "w") as f:
        f.write("a,b,label\n")
        for i in range(0, 1_000_000, 100_000):
            f.write("".join(f"0.5,0.25,{j}\n" for j in range(i, i + 100_000)))


def _sparse_2gb(path):
    with open(path, "wb") as f:
        f.truncate(2 * 10**9)


def _save(name, **arrays):
    def write(path):
        np.savez(path, **arrays)
    return write


def _text(make):
    return lambda path, lines: path.write_text(make(lines))


def _bytes(data):
    return lambda path, lines: path.write_bytes(data)


# (file name, how to write it from the wine CSV's lines, words the one line must hold)
CASES = [
    ("ragged.csv", _text(lambda L: "\n".join(L[:5] + [L[5] + ",1.0"] + L[6:]) + "\n"),
     "line 6 has 15 fields where line 1 has 14"),
    ("short_row.csv", _text(lambda L: "\n".join(L[:5] + [L[5].rsplit(",", 2)[0]] + L[6:]) + "\n"),
     "line 6 has 12 fields where line 1 has 14"),
    ("strings.csv", _text(lambda L: _cell(L, 7, 2, "abc")), "line 8, column 3 (ash): 'abc' is not a number"),
    ("missing.csv", _text(lambda L: _cell(L, 9, 4, "")), "line 10, column 5 (magnesium): an empty cell"),
    ("nan.csv", _text(lambda L: _cell(L, 3, 1, "nan")), "line 4, column 2 (malic_acid): nan"),
    ("inf.csv", _text(lambda L: _cell(L, 3, 1, "-inf")), "line 4, column 2 (malic_acid): -inf"),
    ("empty.csv", _text(lambda L: ""), "is empty (0 bytes)"),
    ("header_only.csv", _text(lambda L: L[0] + "\n"), "has a header but no data rows"),
    ("one_class.csv", _text(lambda L: "\n".join([L[0]] + [r.rsplit(",", 1)[0] + ",class_0" for r in L[1:]]) + "\n"),
     "holds 1 class ('class_0'); a classifier needs at least 2"),
    ("million_classes.csv", lambda p, L: _million_classes(p), "1,000,000 distinct labels; at most 1,000"),
    ("empty_label.csv", _text(lambda L: _cell(L, 5, 13, "")), "line 6: the label ('class') is empty"),
    ("blank_line.csv", _text(lambda L: "\n".join(L[:10] + [""] + L[10:]) + "\n"), "line 11 is empty but data follow"),
    ("semicolons.csv", _text(lambda L: "\n".join(r.replace(",", ";") for r in L) + "\n"),
     "1 column per line: no features besides the label"),
    ("one_row.csv", _text(lambda L: L[0] + "\n" + L[1] + "\n"), "only 1 sample"),
    ("binary.csv", _bytes(b"a,b,c\n1,2,\x00\x01\x02\n"), "holds NUL bytes: a binary file"),
    ("latin1.csv", _bytes("caf\xe9,b,label\n1,2,0\n3,4,1\n".encode("latin-1")), "is not UTF-8 text"),
    ("huge.csv", lambda p, L: _sparse_2gb(p), "is 2 GB; files up to 1 GB are read"),
    ("pickle.npz", _bytes(pickle.dumps({"X": np.zeros((3, 2)), "y": [0, 1, 0]})), "is a pickle, not an .npz"),
    ("object.npz", lambda p, L: _save("o", X=np.array([[1, "a"], [2, "b"]], dtype=object), y=np.array([0, 1]))(p),
     "array 'X' holds Python objects (dtype object); explorer never unpickles"),
    ("bare.npz", lambda p, L: np.save(open(p, "wb"), np.zeros((3, 3))), "a single .npy array, not an .npz"),
    ("no_y.npz", lambda p, L: _save("n", X=np.zeros((4, 2)))(p), "it needs X and y"),
    ("typo.npz", lambda p, L: _save("t", X=np.zeros((4, 2)), Y=np.array([0, 1, 0, 1]))(p), "an array named 'Y'"),
    ("flat.npz", lambda p, L: _save("f", X=np.zeros(4), y=np.array([0, 1, 0, 1]))(p), "X has shape (4,)"),
    ("nan.npz", lambda p, L: _save("m", X=np.array([[0, 1], [np.nan, 2], [1, 1]]), y=np.array([0, 1, 0]))(p),
     "X[1, 0] (x0) is nan"),
    ("text_inputs.npz", lambda p, L: _save("s", X=np.array([["a", "b"], ["c", "d"]]), y=np.array([0, 1]))(p),
     "X has dtype <U1; inputs must be real numbers"),
    ("truncated.npz", lambda p, L: (_save("c", X=np.zeros((40, 2)), y=np.zeros(40))(p),
                                    p.write_bytes(p.read_bytes()[:100])), "is a damaged zip archive"),
    ("bomb.npz", lambda p, L: _bomb(p), "its arrays take 2.4 GB decompressed; up to 2 GB are loaded"),
    ("folder.csv", lambda p, L: p.mkdir(), "is a folder"),
    ("wine.xlsx", _text(lambda L: "\n".join(L)), "unknown data set"),
]


@pytest.mark.parametrize("name, write, words", CASES, ids=[c[0] for c in CASES])
def test_a_bad_file_is_one_line_and_exit_status_2(tmp_path, capsys, wine_lines, name, write, words):
    path = tmp_path / name
    write(path, wine_lines)
    rc = main(["train", "--dataset", str(path), "--hidden", "8", "--burn-in", "5", "--steps", "10"])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("explorer: error: ") and words in err, err
    if path.is_file() and path.stat().st_size < 20_000_000 and name != "wine.xlsx":  # the upload says the same
        with pytest.raises(DataError) as e:
            from_upload(name, path.read_bytes())
        assert words in str(e.value) and "\n" not in str(e.value)


def test_there_are_at_least_twenty_kinds_of_bad_file():
    assert len(CASES) >= 20 and len({c[0] for c in CASES}) == len(CASES)

