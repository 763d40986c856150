"""Data sets: find, download, verify, decode and split them; nothing else.

    from explorer.data import load
    data = load("fashion-mnist")        # Dataset: float32 inputs in [0, 1], int64 labels

One module per job:
  registry.py  DatasetSpec, one per data set (names, shape, classes, files and hashes,
               mirrors, size, decoder) and REGISTRY; `register()` adds a data set
  sources.py   where files are looked for, mirrors, download and SHA-256 verification
  decode.py    IDX, pickles (restricted unpickler), CIFAR-10, and the decoded-array cache
  dataset.py   Dataset, load() with its splits, list_report() (`explorer data list`)
  checks.py    prepare(): what a model may train on, checked, as TrainingData

Importing this package is light: pooch, requests and scikit-learn load only when needed.
May import: errors, nothing else of explorer. tests/test_project.py holds this.
"""

from explorer.data.checks import TrainingData, prepare
from explorer.data.dataset import Dataset, list_report, load
from explorer.data.registry import (
    CLASSES,
    DATASETS,
    FORMATS,
    REGISTRY,
    SHAPES,
    DatasetSpec,
    canonical_name,
    io_sizes,
    register,
    unregister,
)
from explorer.data.sources import cache_dir, fetch
from explorer.errors import DataError

__all__ = ["CLASSES", "DATASETS", "FORMATS", "REGISTRY", "SHAPES", "DataError", "Dataset", "DatasetSpec",
           "TrainingData", "cache_dir", "canonical_name", "fetch", "io_sizes", "list_report", "load", "prepare",
           "register", "unregister"]
