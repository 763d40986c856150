"""Where data files are looked for, and downloading them: places, mirrors, download, verify.

Where files are looked for, in order (the first complete copy wins):
  1. `data_dir=` given to `load`: `data_dir/<name>/`, then `data_dir/` itself (so a folder
     holding the four IDX files loads under whichever name you ask for; `source` says where).
     A `data_dir` that does not exist is an error, not a silent fall-through.
  2. `$EXPLORER_DATA` (one or more folders, `os.pathsep`-separated): `<folder>/<name>/`.
  3. The user cache, `$EXPLORER_CACHE` or `pooch.os_cache("explorer")`: `<cache>/<name>/`.
  4. System copies: `/usr/share/datasets/<name>/` (Debian's `dataset-fashion-mnist`);
     `$EXPLORER_SYSTEM_DATA` replaces `/usr/share/datasets` (tests, other distributions).
  5. Download into the cache with pooch from the spec's mirrors, tried in order;
     `$EXPLORER_MIRRORS` (or `fetch(..., mirrors=)`) replaces them: base URLs separated by
     spaces or commas, `{name}` in one is replaced by the data set name, the file name is
     appended.

Downloads land in a pooch temporary file, are renamed to `<file>.<pid>.part`, hashed against
the spec's accepted SHA-256s, and only then renamed to their real name; a failure or wrong
hash moves on to the next mirror, and when every mirror failed nothing is left behind.
Nothing is ever written to a `data_dir` or system folder except by an explicit
`fetch(name, data_dir)`. pooch and requests are imported only when a download starts.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

from explorer.data.decode import CIFAR_BATCHES, CIFAR_FOLDER, check_readable
from explorer.data.registry import DatasetSpec, spec_of
from explorer.errors import DataError

_TIMEOUT = (5, 60)      # requests (connect, read) seconds
_PROBE_SECONDS = 3.0


# ---------------------------------------------------------------- places


def _can_be_folder(what: str, path: Path, fix: str) -> Path:
    """`path`, unless it or one of its parents is a file: then a DataError saying so."""
    blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        inside = "" if blocker == path else f" (inside {blocker})"
        raise DataError(f"{what} {str(path)!r} is a file, not a folder{inside}; {fix}")
    return path


def cache_dir() -> Path:
    """`$EXPLORER_CACHE`, else the per-user cache folder pooch picks for 'explorer'."""
    env = os.environ.get("EXPLORER_CACHE")
    if env:
        return _can_be_folder("EXPLORER_CACHE", Path(env).expanduser(),
                              "point it at a folder (created if missing) or unset it")
    import pooch

    return Path(pooch.os_cache("explorer"))


def system_dir() -> Path:
    """Where system-wide copies live: `$EXPLORER_SYSTEM_DATA`, else /usr/share/datasets."""
    return Path(os.environ.get("EXPLORER_SYSTEM_DATA", "/usr/share/datasets"))


def mirrors_of(spec: DatasetSpec, mirrors=None) -> list[str]:
    """Base URLs to try: `mirrors`, else `$EXPLORER_MIRRORS`, else the spec's."""
    if mirrors is None and os.environ.get("EXPLORER_MIRRORS"):
        mirrors = os.environ["EXPLORER_MIRRORS"].replace(",", " ").split()
    if mirrors is None:
        mirrors = spec.mirrors
    if isinstance(mirrors, str):
        mirrors = [mirrors]
    return [m.replace("{name}", spec.name) for m in mirrors]


def places(name: str, data_dir=None) -> list[tuple[str, Path]]:
    """(kind, folder) pairs to search, in order; kind is 'user', 'cache' or 'system'."""
    out = []
    if data_dir is not None:
        d = Path(data_dir).expanduser()
        if not d.is_dir():
            raise DataError(f"data_dir {str(d)!r} is not a folder; pass an existing folder or leave it out")
        out += [("user", d / name), ("user", d)]
    for entry in os.environ.get("EXPLORER_DATA", "").split(os.pathsep):
        if entry:
            out.append(("user", Path(entry).expanduser() / name))
    out.append(("cache", cache_dir() / name))
    out.append(("system", system_dir() / name))
    return out


def _idx_copy(folder: Path, fname: str):
    """The file as published (`x.gz`) or decompressed (`x`), whichever is there. Anything by
    that name counts, so that reading it says what is wrong (a folder, unreadable, empty)."""
    plain = fname[:-3] if fname.endswith(".gz") else fname + ".gz"
    return next((p for p in (folder / fname, folder / plain) if p.exists()), None)


def find_in(spec: DatasetSpec, folder: Path, kind: str):
    """The files of `spec` in `folder` as (format, {role: path}), or None if absent."""
    if not folder.is_dir():
        return None
    name = spec.name
    if spec.format == "cifar":
        for sub in (folder / CIFAR_FOLDER, folder):
            files = {b: sub / b for b in CIFAR_BATCHES}
            present = [b for b, p in files.items() if p.exists()]
            if len(present) == len(files):
                return "cifar-folder", files
            if present and kind != "cache":
                missing = ", ".join(b for b in CIFAR_BATCHES if b not in present)
                raise DataError(f"{name} in {sub} is incomplete (missing {missing}); add the missing "
                                f"batches or delete the folder and run `explorer data fetch {name}`")
        tar = folder / next(iter(spec.files))
        return ("cifar-tar", {"tar": tar}) if tar.exists() else None
    if spec.format != "idx":
        return None
    files, missing = {}, []
    for fname in spec.files:
        hit = _idx_copy(folder, fname)
        if hit is None:
            missing.append(fname)
        else:
            files[fname] = hit
    if not missing:
        return "idx", files
    if spec.pickle and (folder / spec.pickle).exists():
        return "pkl", {"pkl": folder / spec.pickle}
    if files and kind != "cache":   # a half-finished fetch in the cache is simply resumed
        raise DataError(f"{name} in {folder} is incomplete (missing {', '.join(missing)}); add the "
                        f"missing files or delete them and run `explorer data fetch {name}`")
    return None


def find_local(spec: DatasetSpec, data_dir=None):
    """(kind, folder, format, files) of the first complete local copy, or None."""
    for kind, folder in places(spec.name, data_dir):
        found = find_in(spec, folder, kind)
        if found:
            return kind, folder, *found
    return None


# ---------------------------------------------------------------- download


def sha256(path: Path, name: str) -> str:
    """The file's SHA-256; a folder or unreadable file is a DataError saying which."""
    import pooch

    try:
        return pooch.file_hash(str(path), alg="sha256")
    except OSError:
        check_readable(path, name)
        raise


def _why(exc: BaseException) -> str:
    """A few words for a failed request (requests' messages run to several lines)."""
    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    kind = type(exc).__name__
    return {"ConnectionError": "cannot connect", "ConnectTimeout": "timed out", "ReadTimeout": "timed out",
            "ChunkedEncodingError": "cut off mid-download"}.get(kind, kind)


class DownloadFailed(DataError):
    """Every mirror failed for one file; `failures` says how, one entry per mirror."""

    def __init__(self, message, failures):
        super().__init__(message)
        self.failures = failures


def download(spec: DatasetSpec, fname: str, folder: Path, mirrors: list[str], progress: bool) -> Path:
    """`folder/fname`, downloaded from the first mirror that serves it with an accepted hash."""
    import logging

    import pooch
    import requests

    name = spec.name
    final, part = folder / fname, folder / f"{fname}.{os.getpid()}.part"   # pid: parallel fetches
    accepted = spec.files[fname]
    if final.exists():
        if sha256(final, name) in accepted:
            return final
        final.unlink()      # a wrong cached copy is fetched again once, below, then refused
    failures = []
    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel(logging.WARNING)    # pooch logs every download at INFO; we print our own line
    try:
        for base in mirrors:
            url = base.rstrip("/") + "/" + fname
            part.unlink(missing_ok=True)
            if progress:
                print(f"explorer: downloading {name} {fname} from {url}", file=sys.stderr)
            try:
                # pooch streams into a temporary file in `folder` and renames it to `part` only
                # when complete; known_hash=None because we accept several hashes (see the spec).
                pooch.retrieve(url, known_hash=None, fname=part.name, path=folder,
                               downloader=pooch.HTTPDownloader(progressbar=progress, timeout=_TIMEOUT))
            except (requests.RequestException, OSError) as exc:
                failures.append(f"{url}: {_why(exc)}")
                continue
            digest = sha256(part, name)
            if digest in accepted:
                os.replace(part, final)
                return final
            part.unlink()
            failures.append(f"{url}: SHA-256 {digest[:12]}... does not match the published hash, refused")
    finally:
        logger.setLevel(level)
        part.unlink(missing_ok=True)
    why = "; ".join(failures) or "no mirrors"
    raise DownloadFailed(f"{name}: could not download {fname} ({why}); check "
                         f"the network and run `explorer data fetch {name}` again, or use --dataset digits",
                         failures)


def fetch(name, data_dir=None, progress=True, *, mirrors=None) -> Path:
    """Download `name` into the cache (or into `data_dir/<name>/`), verify it, return the folder."""
    spec = spec_of(name)
    if not spec.files:
        how = "bundled with scikit-learn" if spec.format == "sklearn-digits" else "generated"
        raise DataError(f"{spec.name!r} needs no download ({how}); load it with load({spec.name!r})")
    if not spec.downloadable:
        raise DataError(f"{spec.name} has no published download (no mirrors or hashes in its spec); "
                        f"put its files in a folder and pass it as data_dir")
    if data_dir is not None:
        base = _can_be_folder("data_dir", Path(data_dir).expanduser(),
                              "pass a folder (created if missing), or leave it out to use the cache")
    else:
        base = cache_dir()
    folder = _can_be_folder("download folder", base / spec.name, "move that file away or download elsewhere")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create {folder} ({exc.strerror or type(exc).__name__}); "
                        f"download somewhere this user may write (--data-dir)") from None
    urls = mirrors_of(spec, mirrors)
    for fname in spec.files:
        download(spec, fname, folder, urls, progress)
    return folder


def reachable(spec: DatasetSpec, timeout: float = _PROBE_SECONDS) -> bool:
    """Does any mirror answer a HEAD for the first file within `timeout` seconds?"""
    fname = next(iter(spec.files))     # HEAD only: the size does not matter
    return answers([m.rstrip("/") + "/" + fname for m in mirrors_of(spec)], timeout)


def answers(urls, timeout: float = _PROBE_SECONDS) -> bool:
    """Does any of `urls` answer a HEAD request (2xx/3xx) within `timeout` seconds in all?"""
    answered = []

    def probe():
        import requests

        for url in urls:
            try:
                if requests.head(url, timeout=timeout, allow_redirects=True).ok:
                    answered.append(url)
                    return
            except requests.RequestException:
                continue

    # A thread with a deadline, because getaddrinfo has no timeout of its own offline.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(answered)
