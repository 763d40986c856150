"""Test data on disk and on the wire: IDX files as bytes, and a local HTTP mirror."""

import contextlib
import gzip
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


def idx_bytes(array: np.ndarray, magic=None, compress: bool = True, level: int = 9) -> bytes:
    """An IDX file of uint8 `array` (gzipped unless compress=False; `magic`: its first 4 bytes)."""
    header = bytes(magic or (0, 0, 8, array.ndim)) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.asarray(array).astype(np.uint8).tobytes()
    return gzip.compress(data, compresslevel=level) if compress else data


@contextlib.contextmanager
def serve(routes: dict, cut_prefix: str | None = None):
    """An HTTP server on 127.0.0.1 serving `routes` (path -> bytes; read at each request, so a
    test may add routes later); paths under `cut_prefix` send half the promised bytes and close.
    Yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self, head=False):
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                cut = cut_prefix is not None and self.path.startswith(cut_prefix)
                self.wfile.write(body[: len(body) // 2] if cut else body)
            self.close_connection = True

        def do_HEAD(self):
            self.do_GET(head=True)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def write_sklearn_files(folder) -> dict:
    """scikit-learn's bundled wine, breast cancer and digits written as a user would save them:
    CSVs with a header (wine's labels as class names, breast cancer's as 0/1, digits' as the last
    column) and NPZs (digits' with its image shape). {name: path}."""
    import csv
    from pathlib import Path

    from sklearn.datasets import load_breast_cancer, load_digits, load_wine

    folder = Path(folder)
    out = {}
    for name, bunch, label in (("wine", load_wine(), "class"), ("breast_cancer", load_breast_cancer(), "diagnosis"),
                               ("digits", load_digits(), "digit")):
        path = folder / f"{name}.csv"
        names = [str(n) for n in (bunch.feature_names if name != "digits" else
                                  [f"pixel_{i}_{j}" for i in range(8) for j in range(8)])]
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow([*names, label])
            for x, t in zip(bunch.data, bunch.target):
                w.writerow([*(f"{v:g}" for v in x), bunch.target_names[t] if name == "wine" else int(t)])
        out[f"{name}.csv"] = path
        npz = folder / f"{name}.npz"
        extra = {"image_shape": np.array([8, 8])} if name == "digits" else {"feature_names": np.array(names)}
        np.savez(npz, X=bunch.data, y=bunch.target, classes=np.array([str(c) for c in bunch.target_names]), **extra)
        out[f"{name}.npz"] = npz
    return out
