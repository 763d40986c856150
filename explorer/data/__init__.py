"""Data sets: find, download, verify, decode and split them; nothing else.

    from explorer.data import load
    data = load("fashion-mnist")        # Dataset: float32 inputs in [0, 1], int64 labels

One module per job:
  registry.py  DatasetSpec, one per data set (names, shape, classes, files and hashes,
               mirrors, size, decoder) and REGISTRY; `register()` adds a data set
  sources.py   where files are looked for, mirrors, download and SHA-256 verification
  decode.py    IDX, pickles (restricted unpickler), CIFAR-10, and the decoded-array cache
  dataset.py   Dataset, load() with its splits, list_report() (`explorer data list`)
  own.py       Dataset.from_arrays: your arrays checked, labels mapped, split, scaled (recorded)
  tables.py    your .csv and .npz files (and uploads' bytes: from_upload), read safely, size-checked
  openml.py    load("openml:NAME_OR_ID") through scikit-learn's fetch_openml, cached
  checks.py    prepare(): what a model may train on, checked, as TrainingData

Importing this package is light: pooch, requests and scikit-learn load only when needed.
May import: errors, nothing else of explorer. tests/test_project.py holds this.
"""

from explorer.data.checks import TrainingData, prepare
from explorer.data.dataset import (
    Dataset,
    check_data_settings,
    dataset_name,
    from_upload,
    io_sizes,
    kind_of,
    list_report,
    load,
    pinned_sha256,
    session_datasets,
)
from explorer.data.own import MAX_CLASSES
from explorer.data.registry import (
    CLASSES,
    DATASETS,
    FORMATS,
    REGISTRY,
    SHAPES,
    DatasetSpec,
    canonical_name,
    register,
    unregister,
)
from explorer.data.sources import cache_dir, fetch
from explorer.data.tables import MAX_ARRAY_BYTES, MAX_FILE_BYTES, MAX_UPLOAD_BYTES, sha256_of
from explorer.errors import DataError

__all__ = ["CLASSES", "DATASETS", "FORMATS", "MAX_ARRAY_BYTES", "MAX_CLASSES", "MAX_FILE_BYTES", "MAX_UPLOAD_BYTES",
           "REGISTRY", "SHAPES", "DataError", "Dataset", "DatasetSpec", "TrainingData", "cache_dir", "canonical_name",
           "check_data_settings", "dataset_name", "fetch", "from_upload", "io_sizes", "kind_of",
           "list_report", "load", "pinned_sha256", "prepare", "register", "session_datasets", "sha256_of", "unregister"]
