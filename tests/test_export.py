"""Files out (explorer/files.py; figures and run bundles: explorer/export.py): a write never
turns a device, FIFO or link into a regular file, fails in one line naming the path and the
reason, leaves no temporary file behind (not even after a kill), honours the umask; the
pre-flight checks refuse what cannot be written.

Real files, devices, FIFOs, processes and signals. Tests run as root here, where permission
bits do not stop anyone: a read-only folder is tested in a child process that drops to the
user `nobody` after its imports.
"""

import errno
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import plotly.graph_objects as go
import pytest
from unprivileged import run_as_nobody

from explorer.errors import ExplorerError
from explorer.export import find_chrome, write_figures, write_run_bundle
from explorer.files import (
    TEMP_NAME,
    check_output_file,
    check_output_folder,
    remove_stale_temp_files,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def temps(folder) -> list[str]:
    return sorted(p.name for p in Path(folder).iterdir() if TEMP_NAME.fullmatch(p.name) or ".tmp" in p.name)


def one_line(e) -> str:
    text = str(e.value if hasattr(e, "value") else e)
    assert "\n" not in text and "Traceback" not in text
    return text


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def figures(n=2) -> dict:
    return {f"fig{i}": go.Figure(go.Scatter(y=[1, 3, 2, i])) for i in range(n)}


def run_unprivileged(code: str) -> subprocess.CompletedProcess:
    """`code` as `nobody` (unprivileged.run_as_nobody) with explorer.export and plotly imported
    first (plotly imports lazily: FIG is drawn once before)."""
    return run_as_nobody(code, "import plotly.graph_objects, plotly.io, plotly.offline; "
                               "FIG = plotly.graph_objects.Figure(plotly.graph_objects.Scatter(y=[1, 2])); "
                               "from explorer.errors import ExplorerError; from explorer.export import *")


# -- 1. what is at the path decides how it is written --------------------------------------------------
def device_copy(tmp_path: Path, name: str, major: int, minor: int) -> Path:
    """A private node of a /dev character device (so a broken write cannot damage the real one)."""
    p = tmp_path / name
    try:
        os.mknod(p, stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.close(os.open(p, os.O_WRONLY))
    except OSError as e:
        pytest.skip(f"cannot make or open a device node here ({e})")
    return p


def guard_system_paths(tmp_path: Path) -> None:
    """Before a test writes to a real /dev path: prove on a private FIFO that the code under test
    does not rename over what is not a regular file (as root, a regression would replace the
    machine's /dev/full or /dev/stdout with a regular file)."""
    fifo = tmp_path / "guard-fifo"
    os.mkfifo(fifo)
    try:
        write_text_atomic(fifo, "x")
    except ExplorerError:
        pass
    if not stat.S_ISFIFO(os.lstat(fifo).st_mode):
        pytest.fail("write_*_atomic replaced a FIFO with a file: not touching the real /dev paths")


@pytest.mark.parametrize("where", ["copy", "system"])
def test_full_device_stays_a_device_and_the_error_says_why(tmp_path, where):
    if where == "system":
        guard_system_paths(tmp_path)
    path = Path("/dev/full") if where == "system" else device_copy(tmp_path, "full", 1, 7)
    with pytest.raises(ExplorerError) as e:
        write_json_atomic(path, {"a": 1})
    assert one_line(e) == f"cannot write {path}: no space left on device; free some space or write elsewhere"
    assert stat.S_ISCHR(os.stat(path).st_mode)
    assert temps(path.parent) == [] or where == "system"
    if where == "system":
        assert not [n for n in os.listdir("/dev") if n.startswith(".full.")]


@pytest.mark.parametrize("where", ["copy", "system"])
def test_null_device_is_written_not_replaced(tmp_path, where):
    if where == "system":
        guard_system_paths(tmp_path)
    path = Path("/dev/null") if where == "system" else device_copy(tmp_path, "null", 1, 3)
    assert write_text_atomic(path, "hello\n") == path
    assert stat.S_ISCHR(os.stat(path).st_mode)
    assert not [n for n in os.listdir(path.parent) if n.startswith(".null.")]


@pytest.mark.timeout(30)
def test_fifo_is_written_straight_and_one_without_reader_fails_at_once(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()), daemon=True)
    reader.start()
    time.sleep(0.2)  # the reader is waiting in open()
    payload = b"x" * 300_000  # more than a pipe buffer: blocking writes, not EAGAIN
    try:
        write_bytes_atomic(fifo, payload)
        reader.join(10)
    finally:
        if reader.is_alive() and stat.S_ISFIFO(os.stat(fifo).st_mode):  # the write never came: let it go
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert got == [payload] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert temps(tmp_path) == []

    with pytest.raises(ExplorerError) as e:  # nobody reads: an error, not a hang (the timeout mark guards it)
        write_text_atomic(fifo, "lost?")
    assert one_line(e) == f"cannot write {fifo}: nothing is reading it; start the reader first"
    assert stat.S_ISFIFO(os.stat(fifo).st_mode) and temps(tmp_path) == []


def test_symlink_is_followed_and_survives(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "results.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    write_json_atomic(link, {"a": 1})
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == '{\n  "a": 1\n}\n'
    assert temps(tmp_path) == [] and temps(tmp_path / "real") == []

    dangling = tmp_path / "new.json"  # a link to a file still to be made: the file is made
    dangling.symlink_to(tmp_path / "real" / "made.json")
    write_text_atomic(dangling, "made")
    assert dangling.is_symlink() and (tmp_path / "real" / "made.json").read_text() == "made"


@pytest.mark.parametrize("name", ["/dev/fd/1", "/dev/stdout"])
@pytest.mark.parametrize("sink", ["file", "pipe"])
def test_stdout_is_written_in_place(tmp_path, name, sink):
    guard_system_paths(tmp_path)
    code = f"""
        import os, sys
        from explorer.files import write_json_atomic
        print("before", flush=False)
        write_json_atomic({name!r}, {{"a": 1}}, indent=None)
        print("after")
        assert os.path.islink("/dev/stdout")
    """
    if sink == "file":
        out = tmp_path / "out.txt"
        with open(out, "wb") as f:
            p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], stdout=f, stderr=subprocess.PIPE,
                               text=True, timeout=60)
        text = out.read_text()
    else:
        p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
        text = p.stdout
    assert p.returncode == 0, p.stderr
    assert text == 'before\n{"a": 1}\nafter\n'
    assert os.path.islink("/dev/stdout")


def test_full_disk_fails_in_one_line_and_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "results.json"
    path.write_text("old")
    real_write = os.write

    def full(fd, data):
        if fd > 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    with monkeypatch.context() as m:
        m.setattr(os, "write", full)
        with pytest.raises(ExplorerError) as e:
            write_json_atomic(path, {"a": list(range(1000))})
    assert one_line(e) == f"cannot write {path}: no space left on device; free some space or write elsewhere"
    assert path.read_text() == "old" and temps(tmp_path) == []


def test_file_size_limit_in_a_real_process_keeps_the_old_file(tmp_path):
    path = tmp_path / "results.json"
    path.write_text("old")
    code = f"""
        import resource
        from explorer.errors import ExplorerError
        from explorer.files import write_bytes_atomic
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        try:
            write_bytes_atomic({str(path)!r}, b"x" * 5000)
        except ExplorerError as e:
            print(e)
    """
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout == f"cannot write {path}: file too large; write elsewhere\n"
    assert path.read_text() == "old" and temps(tmp_path) == []


def test_write_into_a_folder_or_under_a_file_fails_in_one_line(tmp_path):
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(ExplorerError) as e:
        write_text_atomic(tmp_path / "dir.json", "x")
    assert one_line(e) == f"cannot write {tmp_path}/dir.json: is a directory; give a file name, not a folder"
    (tmp_path / "file").write_text("keep")
    for path in (tmp_path / "file" / "x.json", tmp_path / "file" / "a" / "b.json"):
        with pytest.raises(ExplorerError) as e:
            write_text_atomic(path, "x")
        assert one_line(e) == f"cannot write {path}: {tmp_path}/file is not a folder; choose another path"
    assert (tmp_path / "file").read_text() == "keep" and temps(tmp_path) == []
    with pytest.raises(ExplorerError, match="expected a file name"):
        write_text_atomic("", "x")


def test_permission_denied_fails_in_one_line(shared_dir):
    ro = shared_dir / "ro"
    ro.mkdir()
    (ro / "results.json").write_text("old")
    ro.chmod(0o555)
    p = run_unprivileged(f"""
        for path in ({str(ro / 'results.json')!r}, {str(ro / 'new.json')!r}):
            try:
                write_text_atomic(path, "new")
            except ExplorerError as e:
                print(e)
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"cannot write {ro}/results.json: permission denied; choose a path you can write to",
        f"cannot write {ro}/new.json: permission denied; choose a path you can write to"]
    assert (ro / "results.json").read_text() == "old" and sorted(os.listdir(ro)) == ["results.json"]


# -- 2. the pre-flight checks ----------------------------------------------------------------------------
def test_check_output_file(tmp_path):
    assert check_output_file(tmp_path / "r.json") == tmp_path / "r.json"
    assert check_output_file(str(tmp_path / "new" / "deeper" / "r.json")) == tmp_path / "new" / "deeper" / "r.json"
    assert not (tmp_path / "new").exists()  # nothing is created
    (tmp_path / "old.json").write_text("x")
    assert check_output_file(tmp_path / "old.json") == tmp_path / "old.json"
    for fine in ("/dev/null", "/dev/stdout", "/dev/fd/1"):
        assert check_output_file(fine) == Path(fine)
    os.mkfifo(tmp_path / "fifo")
    assert check_output_file(tmp_path / "fifo") == tmp_path / "fifo"
    (tmp_path / "link.json").symlink_to(tmp_path / "old.json")
    assert check_output_file(tmp_path / "link.json") == tmp_path / "link.json"
    before = sorted(os.listdir(tmp_path))

    cases = {
        "": "--json '': expected a file name",
        str(tmp_path): f"--json {tmp_path}: is a folder, expected a file name",
        "/etc/passwd/x": "--json /etc/passwd/x: /etc/passwd is a file, not a folder; choose another path",
        str(tmp_path / "old.json" / "a" / "b.json"):
            f"--json {tmp_path}/old.json/a/b.json: {tmp_path}/old.json is a file, not a folder; choose another path",
        "/proc/version/r.json": "--json /proc/version/r.json: /proc/version is a file, not a folder; "
                                "choose another path",
    }
    for path, message in cases.items():
        with pytest.raises(ExplorerError) as e:
            check_output_file(path)
        assert one_line(e) == message
    with pytest.raises(ExplorerError) as e:
        check_output_file(Path(tmp_path), what="config file")
    assert one_line(e) == f"config file {tmp_path}: is a folder, expected a file name"

    (tmp_path / "gone").symlink_to(tmp_path / "nowhere")  # a file under a dangling link: the link is followed
    assert check_output_file(tmp_path / "gone" / "r.json") == tmp_path / "gone" / "r.json"
    with pytest.raises(ExplorerError) as e:  # a folder cannot be made where a link is
        check_output_folder(tmp_path / "gone")
    assert one_line(e) == (f"--out {tmp_path}/gone: {tmp_path}/gone is a broken symbolic link; "
                           f"remove it or choose another path")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        with pytest.raises(ExplorerError) as e:
            check_output_file(tmp_path / "sock")
        assert one_line(e) == f"--json {tmp_path}/sock: is a socket, expected a file, device or FIFO"
    finally:
        sock.close()
    assert sorted(os.listdir(tmp_path)) == sorted(before + ["gone", "sock"])


def test_check_output_folder(tmp_path):
    assert check_output_folder(tmp_path) == tmp_path
    assert check_output_folder(str(tmp_path / "a" / "b")) == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # nothing is created
    (tmp_path / "f").write_text("x")
    cases = {
        "": "--out '': expected a folder name",
        str(tmp_path / "f"): f"--out {tmp_path}/f: is a file, not a folder; choose a folder",
        str(tmp_path / "f" / "sub"): f"--out {tmp_path}/f/sub: {tmp_path}/f is a file, not a folder; "
                                     f"choose another path",
        "/etc/passwd/x": "--out /etc/passwd/x: /etc/passwd is a file, not a folder; choose another path",
        "/dev/null": "--out /dev/null: is a device, not a folder; choose a folder",
    }
    for path, message in cases.items():
        with pytest.raises(ExplorerError) as e:
            check_output_folder(path)
        assert one_line(e) == message
    with pytest.raises(ExplorerError) as e:
        check_output_folder(tmp_path / "f", what="export folder")
    assert one_line(e) == f"export folder {tmp_path}/f: is a file, not a folder; choose a folder"
    assert sorted(os.listdir(tmp_path)) == ["f"]


def test_checks_refuse_a_read_only_folder(shared_dir):
    ro = shared_dir / "ro"
    ro.mkdir()
    (ro / "old.json").write_text("x")
    ro.chmod(0o555)
    shared_dir.chmod(0o555)  # so that a normal user running the tests is refused there too
    p = run_unprivileged(f"""
        ro = {str(ro)!r}
        for check, path in ((check_output_file, ro + "/old.json"), (check_output_file, ro + "/new.json"),
                            (check_output_file, ro + "/sub/new.json"), (check_output_folder, ro),
                            (check_output_folder, ro + "/sub"), (check_output_folder, {str(shared_dir)!r})):
            try:
                print("ok", check(path))
            except ExplorerError as e:
                print(e)
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"--json {ro}/old.json: cannot create files in {ro} (permission denied); choose a folder you can write to",
        f"--json {ro}/new.json: cannot create files in {ro} (permission denied); choose a folder you can write to",
        f"--json {ro}/sub/new.json: cannot create folder {ro}/sub: {ro} is not writable; "
        f"choose a folder you can write to",
        f"--out {ro}: cannot create files in it (permission denied); choose a folder you can write to",
        f"--out {ro}/sub: cannot create folder {ro}/sub: {ro} is not writable; choose a folder you can write to",
        f"--out {shared_dir}: cannot create files in it (permission denied); choose a folder you can write to",
    ]


# -- 3. temporary files of killed exports ------------------------------------------------------------
def own_temp(folder: Path, pid: int, name: str) -> Path:
    """A temporary file as explorer's process `pid` would have left it (its folder, its marker)."""
    d = folder / f".explorer-tmp.{pid}.{os.urandom(4).hex()}"
    d.mkdir()
    (d / "explorer-owned").write_text(f"explorer: temporary files of process {pid}\n{name}\n")
    (d / name).write_text("half")
    return d


def test_next_export_removes_only_explorers_temp_files_of_dead_processes(tmp_path):
    """Issue 19: `sweep --formats html` removed a user's `.notes.12345.tmp`, `.holiday.2024.tmp.png`
    and `.report.v2.99999.tmp`. Only what explorer made (a folder it marked) is removed, and only
    once its process has ended."""
    dead = dead_pid()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        users = [".notes.12345.tmp", ".holiday.2024.tmp.png", ".report.v2.99999.tmp", f".accuracy.{dead}.tmp.pdf",
                 f".weights.{dead}.0badcafe.tmp.png", f".config.json.{dead}.1a2b3c4d.tmp", "keep.json"]
        for name in users:
            (tmp_path / name).write_text("mine")
        stale = own_temp(tmp_path, dead, "accuracy.tmp.png")
        alive = own_temp(tmp_path, sleeper.pid, "results.json.tmp")
        lookalike = tmp_path / f".explorer-tmp.{dead}.0123abcd"  # the name, without our marker: not ours
        lookalike.mkdir()
        (lookalike / "photo.png").write_text("mine")
        marked_more = own_temp(tmp_path, dead, "weights.tmp.svg")  # ours, but someone put a file in it
        (marked_more / "diary.txt").write_text("mine")
        write_figures(figures(1), tmp_path, formats=("html",))
        left = set(os.listdir(tmp_path))
        assert set(users) <= left and all((tmp_path / n).read_text() == "mine" for n in users)
        assert not stale.exists() and alive.is_dir() and (lookalike / "photo.png").exists()
        assert sorted(os.listdir(marked_more)) == ["diary.txt"]  # only what the marker names went
        assert remove_stale_temp_files(tmp_path) == []
    finally:
        sleeper.kill()
        sleeper.wait()
    assert remove_stale_temp_files(tmp_path) == [alive / "results.json.tmp"] and not alive.exists()

    bundle = tmp_path / "bundle"  # a run bundle without figures cleans up too
    bundle.mkdir()
    own_temp(bundle, dead, "results.json.tmp")
    write_run_bundle(bundle, {"seed": 0}, {"acc": 1.0})
    assert sorted(os.listdir(bundle)) == ["config.json", "results.json"]


def test_a_sweep_keeps_files_that_only_look_like_temporary_ones(tmp_path):
    """The issue's command, in a real process: `explorer sweep --out DIR --formats html`."""
    out = tmp_path / "out"
    out.mkdir()
    users = [".notes.12345.tmp", ".holiday.2024.tmp.png", ".report.v2.99999.tmp"]
    for name in users:
        (out / name).write_text("mine")
    p = subprocess.run([sys.executable, "-m", "explorer", "sweep", "--out", str(out), "--dataset", "digits",
                        "--steps", "20", "--burn-in", "5", "--hidden", "8", "--workers", "1", "--no-progress",
                        "--formats", "html"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert all((out / n).read_text() == "mine" for n in users)
    assert not [n for n in os.listdir(out) if n.startswith(".explorer-tmp")]


def _session(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[3])
    except (OSError, IndexError, ValueError):
        return None


def _children(pid: int) -> list[int]:
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _writing(out: Path) -> bool:
    """Has an image been written into a temporary file of explorer's in `out` (which come and go)?"""
    try:
        return any(os.path.getsize(p) > 0 for p in out.glob(".explorer-tmp.*/*.tmp.*"))
    except OSError:
        return False


def _using(folder: Path) -> list[int]:
    """Processes whose command line names `folder` (a browser with its profile there)."""
    out = []
    for d in Path("/proc").iterdir():
        try:
            if d.name.isdigit() and os.fsencode(str(folder)) in (d / "cmdline").read_bytes():
                out.append(int(d.name))
        except OSError:
            pass
    return out


@pytest.mark.slow
@pytest.mark.timeout(180)
@pytest.mark.skipif(find_chrome() is None, reason="needs Chrome/Chromium for kaleido")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL], ids=["INT", "TERM", "KILL"])
def test_an_interrupted_export_leaves_nothing_behind(tmp_path, monkeypatch, request, sig):
    """Issue 19: Ctrl-C, SIGTERM or SIGKILL during PNG/SVG/PDF export left a Chromium profile and an
    index.html folder in /tmp every time (and temporary images in the folder). The browser's files
    go into a folder of explorer's own (here under a private TMPDIR, to see them): Ctrl-C and
    SIGTERM remove it at once (the child handles signals as the `explorer` command does), a SIGKILL
    leaves it to the next export, which also ends a browser still in it."""
    out = tmp_path / "figs"
    # short: Chromium's sockets live under TMPDIR, and a socket's path holds at most 107 bytes
    tmp = Path(tempfile.mkdtemp(prefix="x19-", dir="/tmp"))
    request.addfinalizer(lambda: shutil.rmtree(tmp, ignore_errors=True))
    code = f"""
        import sys
        import plotly.graph_objects as go
        from explorer.experiments.pool import ProgramSigint
        from explorer.export import write_figures
        ProgramSigint.install()
        figs = {{f"fig{{i}}": go.Figure(go.Scatter(y=list(range(50 + i)))) for i in range(30)}}
        try:
            print(write_figures(figs, {str(out)!r}, formats=("png", "svg", "pdf"))[1])
        except KeyboardInterrupt:
            sys.exit(130)
    """
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, "TMPDIR": str(tmp)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            if _writing(out):
                break  # kaleido is writing the images
            time.sleep(0.05)
        assert child.poll() is None, f"the export ended before it could be interrupted: {child.communicate()}"
        boxes = list(tmp.glob("explorer-export.*"))
        assert len(boxes) == 1 and _using(boxes[0]), "the browser runs in explorer's folder"
        t0 = time.monotonic()
        child.send_signal(sig)
        err = child.communicate(timeout=60)[1]
        print(f"{sig.name}: the export ended {time.monotonic() - t0:.2f} s after it (status {child.returncode})")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}[sig]
    assert "Traceback" not in err and "Wait expired" not in err, err
    if sig != signal.SIGKILL:
        assert os.listdir(tmp) == [] and not _using(boxes[0])
        assert [n for n in os.listdir(out) if n.startswith(".")] == []
        return
    assert os.listdir(tmp) == [boxes[0].name], "a kill leaves the folder (the fault this test reproduces)"
    assert [n for n in os.listdir(out) if TEMP_NAME.fullmatch(n)]
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(tempfile, "gettempdir", lambda: str(tmp))
    paths, note = write_figures(figures(1), out, formats=("html", "png"))  # the next export
    assert note is None and os.listdir(tmp) == [] and not _using(boxes[0])
    assert [n for n in os.listdir(out) if n.startswith(".")] == []


# -- 4. modes follow the umask -----------------------------------------------------------------------------
@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_every_file_honours_the_umask(tmp_path, umask):
    (tmp_path / "old.json").write_text("x")
    (tmp_path / "old.json").chmod(0o600)
    formats = ("html", "png") if find_chrome() else ("html",)
    old = os.umask(umask)
    try:
        write_json_atomic(tmp_path / "new.json", {"a": 1})
        write_json_atomic(tmp_path / "old.json", {"a": 2})
        write_text_atomic(tmp_path / "sub" / "new.txt", "x")
        paths, note = write_figures(figures(1), tmp_path / "figs", formats=formats)
    finally:
        os.umask(old)
    assert note is None
    files = [tmp_path / "new.json", tmp_path / "old.json", tmp_path / "sub" / "new.txt", *paths]
    assert {p.suffix for p in paths} >= {".html", ".js"} | ({".png"} if "png" in formats else set())
    assert {str(p): oct(stat.S_IMODE(os.stat(p).st_mode)) for p in files} == \
           {str(p): oct(0o666 & ~umask) for p in files}


# -- 6. write_figures: a bad folder fails before anything is written; kaleido failures leave nothing --------
def test_write_figures_refuses_a_bad_folder_before_writing(tmp_path):
    (tmp_path / "file").write_text("keep")
    for folder, message in (
            (tmp_path / "file", f"figure folder {tmp_path}/file: is a file, not a folder; choose a folder"),
            (tmp_path / "file" / "figs", f"figure folder {tmp_path}/file/figs: {tmp_path}/file is a file, "
                                         f"not a folder; choose another path")):
        with pytest.raises(ExplorerError) as e:
            write_figures(figures(), folder, formats=("html", "png"))
        assert one_line(e) == message
    with pytest.raises(ExplorerError) as e:
        write_run_bundle(tmp_path / "file" / "run", {"seed": 0}, {"acc": 1.0}, figures())
    assert one_line(e) == (f"export folder {tmp_path}/file/run: {tmp_path}/file is a file, not a folder; "
                           f"choose another path")
    assert os.listdir(tmp_path) == ["file"] and (tmp_path / "file").read_text() == "keep"


def test_write_figures_refuses_a_read_only_folder_before_writing(shared_dir):
    ro = shared_dir / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    p = run_unprivileged(f"""
        for folder in ({str(ro)!r}, {str(ro / 'figs')!r}):
            try:
                write_figures({{"a": FIG}}, folder, formats=("html",))
            except ExplorerError as e:
                print(e)
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        f"figure folder {ro}: cannot create files in it (permission denied); choose a folder you can write to",
        f"figure folder {ro}/figs: cannot create folder {ro}/figs: {ro} is not writable; "
        f"choose a folder you can write to"]
    assert os.listdir(ro) == []


def test_kaleido_failure_mid_batch_leaves_no_temp_files(tmp_path, monkeypatch):
    import plotly.io as pio

    monkeypatch.setenv("BROWSER_PATH", sys.executable)  # "Chrome is here": kaleido is then asked

    def dies_after_one(fig, file, format, **kw):  # kaleido writes one image, then the browser dies
        Path(file[0]).write_bytes(b"\x89PNG half")
        raise RuntimeError("browser crashed\nwith a long story")

    monkeypatch.setattr(pio, "write_images", dies_after_one)
    paths, note = write_figures(figures(3), tmp_path, formats=("html", "png", "svg"))
    assert note == "static images were not written (RuntimeError: browser crashed); the HTML files were"
    assert sorted(p.name for p in paths) == ["fig0.html", "fig1.html", "fig2.html", "plotly.min.js"]
    assert sorted(os.listdir(tmp_path)) == ["fig0.html", "fig1.html", "fig2.html", "plotly.min.js"]


@pytest.mark.timeout(120)
def test_a_browser_that_does_not_start_leaves_no_temp_files(tmp_path, monkeypatch):
    fake = tmp_path / "chrome"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("BROWSER_PATH", str(fake))
    out = tmp_path / "figs"
    paths, note = write_figures(figures(2), out, formats=("png", "pdf"))
    assert paths == [] and note.startswith("static images were not written (")
    assert os.listdir(out) == []


@pytest.mark.skipif(find_chrome() is None, reason="needs Chrome/Chromium for kaleido")
@pytest.mark.timeout(180)
def test_a_figure_the_browser_cannot_draw_is_named_and_the_others_are_written(tmp_path, monkeypatch):
    """kaleido does not raise when it fails to draw one figure: it deletes that file and goes on
    (seen here on a loaded machine). A real failure: a map whose shapes cannot be fetched (a
    closed local port). It is tried twice, named in the note; the other images are written."""
    import plotly.io as pio

    monkeypatch.setattr(pio.defaults, "topojson", "http://127.0.0.1:9/")
    figs = {"line": go.Figure(go.Scatter(y=[1, 3, 2])), "map": go.Figure(go.Choropleth(locations=["FRA"], z=[1]))}
    paths, note = write_figures(figs, tmp_path, formats=("html", "png"))
    assert note == "map.png not written (the browser failed to draw it twice); export again to retry"
    assert sorted(p.name for p in paths) == ["line.html", "line.png", "map.html", "plotly.min.js"]
    assert sorted(os.listdir(tmp_path)) == ["line.html", "line.png", "map.html", "plotly.min.js"]
    assert (tmp_path / "line.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_static_images_go_through_links_and_into_devices(tmp_path, monkeypatch):
    """What is at a figure's path is respected for the images too (kaleido writes temporary files)."""
    import plotly.io as pio

    monkeypatch.setenv("BROWSER_PATH", sys.executable)
    monkeypatch.setattr(pio, "write_images",
                        lambda fig, file, format, **kw: [Path(f).write_bytes(f"<{x}>".encode()) for f, x in
                                                         zip(file, format)])
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "figs").mkdir()
    (tmp_path / "figs" / "fig0.png").symlink_to(tmp_path / "elsewhere" / "fig0.png")
    guard_system_paths(tmp_path)
    os.symlink("/dev/null", tmp_path / "figs" / "fig1.png")
    paths, note = write_figures(figures(2), tmp_path / "figs", formats=("png",))
    assert note is None and len(paths) == 2
    assert (tmp_path / "figs" / "fig0.png").is_symlink()
    assert (tmp_path / "elsewhere" / "fig0.png").read_bytes() == b"<png>"
    assert os.readlink(tmp_path / "figs" / "fig1.png") == "/dev/null" and stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert temps(tmp_path / "figs") == [] and temps(tmp_path / "elsewhere") == []

