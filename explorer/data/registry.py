"""The data sets this package knows: one `DatasetSpec` per data set, kept in `REGISTRY`.

A spec holds every fact about a data set -- its names, image shape, class names, how it is
decoded, the files it is published as with their accepted SHA-256 hashes, the mirrors to
download them from and the download size -- so the rest of `explorer.data` asks the spec and
never names a data set. Adding a data set published as the four IDX files (KMNIST, say) is
one `register(DatasetSpec(...))` call (or one entry in `_BUILT_IN`) and nothing else.

`DATASETS`, `CLASSES` and `SHAPES` are live read-only views of the registry, kept for the
modules that import them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from explorer.errors import DataError

# How a data set's samples are produced:
#   idx             the four IDX files (`.gz` or plain), in `files` in the order IDX_ROLES
#   cifar           CIFAR-10's python batches: a `cifar-10-batches-py` folder or the tar.gz in `files`
#   sklearn-digits  scikit-learn's bundled 8x8 digits, split at n_samples[0]
#   generated       the random control: uniform inputs and labels, n_samples rows, from a seed
FORMATS = ("idx", "cifar", "sklearn-digits", "generated")
IDX_ROLES = ("train images", "train labels", "test images", "test labels")
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, repr=False)
class DatasetSpec:
    """Everything about one data set. Inputs are flattened images; labels are 0..n_classes-1."""

    name: str                           # canonical, lower case: "fashion-mnist"
    format: str                         # one of FORMATS: how samples are decoded or made
    image_shape: tuple                  # one sample as an image: (28, 28), or (32, 32, 3) (HWC)
    classes: tuple                      # class names, in label order
    files: Mapping = field(default_factory=dict)   # published file name -> accepted SHA-256s (any)
    mirrors: tuple = ()                 # base URLs tried in order; the file name is appended
    size: str = ""                      # the download's size as `explorer data list` says it: "11 MB"
    aliases: tuple = ()                 # other names load() accepts: "fmnist"
    pickle: str = ""                    # also accepted instead of `files`: the post's (train,
                                        # valid, test) pickle, e.g. "mnist.pkl.gz"
    n_samples: tuple | None = None      # (train, test): the generated set's size, digits' split; for
                                        # files, the most samples they may declare (checked before a
                                        # .gz is inflated: decode.idx_limits)

    def __post_init__(self):
        def bad(what):
            return DataError(f"DatasetSpec {self.name!r}: {what}")

        if not isinstance(self.name, str) or not self.name or self.name != self.name.strip().lower():
            raise bad("name must be a non-empty lower-case string such as 'kmnist'")
        if self.name == "auto":
            raise bad("'auto' is reserved (it chooses among the registered data sets)")
        if self.format not in FORMATS:
            raise bad(f"format={self.format!r}; expected one of {', '.join(FORMATS)}")
        shape = tuple(self.image_shape)
        if not shape or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in shape):
            raise bad(f"image_shape={self.image_shape!r}; expected positive integers such as (28, 28)")
        classes = tuple(str(c) for c in self.classes)
        if len(classes) < 2:
            raise bad(f"has {len(classes)} class names; a classifier needs at least 2")
        files = {}
        for fname, hashes in dict(self.files).items():
            hashes = (hashes,) if isinstance(hashes, str) else tuple(hashes)
            wrong = [h for h in hashes if not isinstance(h, str) or not _HEX64.fullmatch(h)]
            if wrong or "/" in fname:
                raise bad(f"files[{fname!r}]: expected a plain file name and lower-case hex SHA-256 "
                          f"hashes, got {wrong[0] if wrong else fname!r}")
            files[fname] = hashes
        if self.format == "idx" and len(files) != len(IDX_ROLES):
            raise bad(f"an idx data set lists 4 files ({', '.join(IDX_ROLES)}, in that order), got {len(files)}")
        if self.format == "cifar" and len(files) != 1:
            raise bad("a cifar data set lists 1 file, the cifar-10-python.tar.gz it is published as")
        if self.format in ("sklearn-digits", "generated"):
            if files:
                raise bad(f"a {self.format} data set has no files")
            if self.n_samples is None:
                raise bad(f"a {self.format} data set needs n_samples=(train, test)")
        if self.n_samples is not None and (len(self.n_samples) != 2 or min(self.n_samples) < 1):
            raise bad(f"n_samples={self.n_samples!r}; expected (train, test) positive counts")
        set_ = object.__setattr__     # frozen: normalise once, here
        set_(self, "image_shape", shape)
        set_(self, "classes", classes)
        set_(self, "files", MappingProxyType(files))
        set_(self, "mirrors", (self.mirrors,) if isinstance(self.mirrors, str) else tuple(self.mirrors))
        set_(self, "aliases", tuple(a.strip().lower() for a in self.aliases))
        if self.n_samples is not None:
            set_(self, "n_samples", tuple(int(n) for n in self.n_samples))

    @property
    def n_features(self) -> int:
        return math.prod(self.image_shape)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def mnist_shaped(self) -> bool:
        """28x28 images: the shape the post's heldout protocol is written for."""
        return self.image_shape == (28, 28)

    @property
    def downloadable(self) -> bool:
        return bool(self.files) and bool(self.mirrors) and all(self.files.values())

    def __repr__(self) -> str:
        shape = "x".join(map(str, self.image_shape))
        return f"DatasetSpec({self.name!r}, {self.format}, {shape}, {self.n_classes} classes, files={len(self.files)})"


# ---------------------------------------------------------------- the data sets

_DIGITS = tuple(str(i) for i in range(10))
_MNIST_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

# Published SHA-256 of the files we download. Any listed hash is accepted.
#  mnist: TensorFlow Datasets, tensorflow_datasets/url_checksums/mnist.txt.
#  fashion-mnist: first the upstream files (TFDS url_checksums/fashion_mnist.txt), then
#    Debian's dataset-fashion-mnist copies (sha256sum of /usr/share/datasets/fashion-mnist/*).
#    Debian's are not byte-identical to upstream: their gzip headers store no file name, which
#    accounts for the whole size difference (23-24 bytes, e.g. 26421880 vs 26421856).
#  cifar10: Keras, keras/datasets/cifar10.py (md5 c58f30108f718f92721af3b95e74349a in
#    torchvision agrees on the same file).
_BUILT_IN = (
    DatasetSpec(
        "mnist", "idx", (28, 28), _DIGITS,
        files=dict(zip(_MNIST_FILES, (
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"))),
        mirrors=("https://storage.googleapis.com/cvdf-datasets/mnist/",   # TFDS
                 "https://ossci-datasets.s3.amazonaws.com/mnist/",         # torchvision
                 "http://yann.lecun.com/exdb/mnist/"),                     # the original
        size="11 MB", pickle="mnist.pkl.gz", n_samples=(60_000, 10_000)),
    DatasetSpec(
        "fashion-mnist", "idx", (28, 28),
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
         "Ankle boot"),
        files=dict(zip(_MNIST_FILES, (
            ("3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
             "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7"),
            ("a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
             "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056"),
            ("346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
             "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa"),
            ("67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
             "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05")))),
        mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                 "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"),
        size="30 MB", aliases=("fashion", "fmnist", "fashion_mnist"), n_samples=(60_000, 10_000)),
    DatasetSpec(
        "cifar10", "cifar", (32, 32, 3),
        ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
        files={"cifar-10-python.tar.gz": "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"},
        mirrors=("https://www.cs.toronto.edu/~kriz/",), size="163 MB", aliases=("cifar-10", "cifar_10"),
        n_samples=(50_000, 10_000)),
    DatasetSpec("digits", "sklearn-digits", (8, 8), _DIGITS, n_samples=(1500, 297)),
    DatasetSpec("random", "generated", (28, 28), _DIGITS, n_samples=(60_000, 10_000)),
)

REGISTRY: dict[str, DatasetSpec] = {}
_ALIASES: dict[str, str] = {}


def register(spec: DatasetSpec, *, replace: bool = False) -> DatasetSpec:
    """Add a data set; load(), fetch(), `explorer data list` and RunConfig then know it."""
    if not isinstance(spec, DatasetSpec):
        raise DataError(f"register() takes a DatasetSpec, got {type(spec).__name__}")
    if replace and spec.name in REGISTRY:
        unregister(spec.name)
    taken = [n for n in (spec.name, *spec.aliases) if n in REGISTRY or n in _ALIASES or n == "auto"]
    if taken:
        raise DataError(f"data set name {taken[0]!r} is already taken; choose another name or pass replace=True")
    REGISTRY[spec.name] = spec
    _ALIASES.update(dict.fromkeys(spec.aliases, spec.name))
    return spec


def unregister(name: str) -> DatasetSpec:
    """Remove a data set (by canonical name or alias) and return its spec."""
    spec = REGISTRY.pop(canonical_name(name))
    for alias in spec.aliases:
        _ALIASES.pop(alias, None)
    return spec


def canonical_name(name) -> str:
    """The data set's canonical name ('fmnist' -> 'fashion-mnist'); DataError if unknown."""
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in REGISTRY and key != "auto":
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(REGISTRY)} or 'auto', or pass a .csv "
                        f"or .npz file or openml:NAME_OR_ID")
    return key


def spec_of(name) -> DatasetSpec:
    """The spec of a registered data set, by any of its names ('auto' is not one)."""
    key = canonical_name(name)
    if key == "auto":
        raise DataError("'auto' is a choice among data sets, not a data set; pass a data set's name")
    return REGISTRY[key]


def io_sizes(name) -> tuple[int, int]:
    """(inputs, classes) of a data set by any of its names; 'auto' as MNIST's (784, 10), the
    largest it picks: what a run's memory is sized by before the data are loaded."""
    key = canonical_name(name)
    return (784, 10) if key == "auto" else (REGISTRY[key].n_features, REGISTRY[key].n_classes)


class _Names(Sequence):
    """The registered names, in registration order, as a live tuple-like view."""

    def __getitem__(self, i):
        return tuple(REGISTRY)[i]

    def __len__(self):
        return len(REGISTRY)

    def __contains__(self, name):
        return name in REGISTRY

    def __eq__(self, other):
        return tuple(self) == (tuple(other) if isinstance(other, (tuple, list, _Names)) else other)

    __hash__ = None

    def __repr__(self):
        return repr(tuple(REGISTRY))


class _Field(Mapping):
    """name -> one field of each registered spec, live and read-only."""

    def __init__(self, attr):
        self._attr = attr

    def __getitem__(self, name):
        return getattr(REGISTRY[name], self._attr)

    def __iter__(self):
        return iter(REGISTRY)

    def __len__(self):
        return len(REGISTRY)

    def __repr__(self):
        return repr(dict(self))


DATASETS = _Names()
CLASSES = _Field("classes")       # tuples of names (they were lists; both index and iterate alike)
SHAPES = _Field("image_shape")

for _spec in _BUILT_IN:
    register(_spec)
