"""Shared helpers of the Python tests: the moesweep binary, a real coordinator
and CPU workers in child processes, a tiny corpus, and readers of the CLI's
JSON, SVG and PNG files.

Every process started here is stopped by its pid (SIGTERM, then SIGKILL after
a grace period), never by name.
"""

import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON_DIR = ROOT / "python"


def _importable(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


# The optional dependencies (Debian: python3-pandas, python3-matplotlib);
# scripts/setup installs both, so a skip here says the machine lacks them.
HAVE_PANDAS = _importable("pandas")
HAVE_MATPLOTLIB = _importable("matplotlib")
needs_pandas = unittest.skipUnless(HAVE_PANDAS, "no pandas (python3-pandas)")
needs_matplotlib = unittest.skipUnless(
    HAVE_MATPLOTLIB, "no matplotlib (python3-matplotlib)")


def binary():
    """The moesweep binary: $MOESWEEP_BINARY (relative to the repository
    root when relative), else build/bin/moesweep. SkipTest when missing."""
    path = Path(os.environ.get("MOESWEEP_BINARY", "build/bin/moesweep"))
    if not path.is_absolute():
        path = ROOT / path
    if not os.access(path, os.X_OK):
        raise unittest.SkipTest(f"no moesweep binary at {path} "
                                "(set MOESWEEP_BINARY)")
    return str(path)


def run(args, check=True, timeout=120, **kw):
    """Runs a command; its CompletedProcess (text). Raises AssertionError
    with its output when check and it fails."""
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                       **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{args} exited {p.returncode}:\n{p.stdout}\n"
                             f"{p.stderr}")
    return p


def cli_json(args):
    """The JSON `moesweep ARGS --json` prints. A binary older than --json
    (which printed JSON by default) is asked again without it."""
    p = run([binary()] + args + ["--json"], check=False)
    if p.returncode != 0 and "--json" in p.stderr:
        p = run([binary()] + args, check=False)
    if p.returncode != 0:
        raise AssertionError(f"moesweep {args} exited {p.returncode}: "
                             f"{p.stderr}")
    return json.loads(p.stdout)


def python_module(args, env=None):
    """Runs `python3 -m moesweep ARGS` with python/ on PYTHONPATH."""
    e = dict(os.environ if env is None else env)
    e["PYTHONPATH"] = os.pathsep.join(
        [str(PYTHON_DIR)] + [x for x in [e.get("PYTHONPATH")] if x])
    return run([sys.executable, "-m", "moesweep"] + args, check=False, env=e)


def plot_binary(args, python=None):
    """Runs `moesweep plot ARGS` (the binary, which runs this package with
    $MOESWEEP_PYTHON): this interpreter unless `python` names another. No
    PYTHONPATH: the binary puts its checkout's python/ there itself."""
    e = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    e["MOESWEEP_PYTHON"] = python or sys.executable
    return run([binary(), "plot"] + args, check=False, env=e)


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_corpus(path, size_bytes=300_000, seed=7):
    """Deterministic pseudo-English (Zipf-distributed words of random
    syllables) in paragraphs: text a tiny model learns a little of per step,
    so losses fall with size and tokens."""
    rng = random.Random(seed)
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "shi", "po", "ve", "do",
                 "an", "el", "or", "us", "in", "ra", "to", "me", "li", "sa"]
    words = ["".join(rng.choice(syllables)
                     for _ in range(rng.choice([1, 1, 2, 2, 2, 3, 3, 4])))
             for _ in range(400)]
    weights = [1 / (i + 1) for i in range(len(words))]
    paragraphs, total = [], 0
    while total < size_bytes:
        sentences = []
        for _ in range(rng.randint(2, 6)):
            w = rng.choices(words, weights, k=rng.randint(4, 14))
            sentences.append(" ".join(w).capitalize() +
                             rng.choice([".", ".", ".", "?", "!"]))
        paragraphs.append(" ".join(sentences))
        total += len(paragraphs[-1]) + 2
    Path(path).write_text("\n\n".join(paragraphs) + "\n")


class Process:
    """A child process with its output in a log file; stop() ends it by its
    pid."""

    def __init__(self, args, log):
        self.log = Path(log)
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(args, stdout=out,
                                         stderr=subprocess.STDOUT)

    def output(self):
        return self.log.read_text(errors="replace")

    def stop(self, grace_s=15):
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


class Coordinator(Process):
    """`moesweep coordinator` on 127.0.0.1, a port of its own choosing and a
    fresh --db; it writes fresh tokens to <db>.tokens."""

    def __init__(self, folder):
        self.db = str(Path(folder) / "db")
        super().__init__([binary(), "coordinator", "--db", self.db,
                          "--listen", "127.0.0.1:0", "--metrics", ""],
                         Path(folder) / "coordinator.log")
        self.tokens_file = self.db + ".tokens"
        deadline = time.monotonic() + 30
        while True:
            m = re.search(r"serving on (127\.0\.0\.1:\d+)", self.output())
            if m:
                self.address = m.group(1)
                break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("coordinator did not start:\n" +
                                     self.output())
            time.sleep(0.02)

    def token(self, role):
        for line in Path(self.tokens_file).read_text().splitlines():
            fields = line.split("#")[0].split()
            if len(fields) == 2 and fields[0] == role:
                return fields[1]
        raise AssertionError(f"no {role} token in {self.tokens_file}")


def start_worker(coordinator, data_dir, name, folder):
    """A `moesweep worker --backend cpu` of one thread."""
    return Process([binary(), "worker", "--coordinator", coordinator.address,
                    "--backend", "cpu", "--token-file",
                    coordinator.tokens_file, "--data-dir", str(data_dir),
                    "--id", name, "--threads", "1"],
                   Path(folder) / f"{name}.log")


def temp_dir(test_case_or_module_cleanup):
    """A temporary folder removed by the given cleanup registrar."""
    d = tempfile.TemporaryDirectory(prefix="moesweep-py-")
    test_case_or_module_cleanup(d.cleanup)
    return Path(d.name)


# ---- Comparing the client's dicts with the CLI's proto3 JSON ----

def _snake(name):
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _is_default(value):
    if value is None or value is False or value == 0 or value == "" or \
            value == []:
        return True
    if isinstance(value, str) and value.endswith("_UNSPECIFIED"):
        return True
    if isinstance(value, dict):
        return all(_is_default(v) for v in value.values())
    return False


def assert_same_as_json(test, client_value, cli_value, path="$"):
    """Checks a client dict against the proto3 JSON of the same message, as
    `moesweep campaign ... --json` prints it: lowerCamelCase keys, int64 as
    decimal strings, defaults omitted. Every JSON value must be in the dict,
    typed (an int64 an int), and every dict value the JSON omits must be a
    default. Doubles must be equal exactly (the JSON round-trips them)."""
    if isinstance(cli_value, dict):
        test.assertIsInstance(client_value, dict, path)
        seen = set()
        for key, v in cli_value.items():
            snake = _snake(key)
            test.assertIn(snake, client_value, f"{path}.{snake}")
            seen.add(snake)
            assert_same_as_json(test, client_value[snake], v,
                                f"{path}.{snake}")
        for key, v in client_value.items():
            if key not in seen:
                test.assertTrue(_is_default(v),
                                f"{path}.{key} = {v!r} is not in the JSON")
    elif isinstance(cli_value, list):
        test.assertIsInstance(client_value, list, path)
        test.assertEqual(len(client_value), len(cli_value), path)
        for i, (a, b) in enumerate(zip(client_value, cli_value)):
            assert_same_as_json(test, a, b, f"{path}[{i}]")
    elif cli_value in ("NaN", "Infinity", "-Infinity") and \
            isinstance(client_value, float):
        test.assertEqual(repr(client_value),
                         {"NaN": "nan", "Infinity": "inf",
                          "-Infinity": "-inf"}[cli_value], path)
    elif isinstance(cli_value, bool):
        test.assertIs(client_value, cli_value, path)
    elif isinstance(cli_value, str) and isinstance(client_value, int) and \
            not isinstance(client_value, bool):
        test.assertEqual(str(client_value), cli_value, f"{path} (int64)")
    elif isinstance(cli_value, (int, float)):
        test.assertIsInstance(client_value, (int, float), path)
        test.assertEqual(float(client_value), float(cli_value), path)
    else:
        test.assertEqual(client_value, cli_value, path)


# ---- Reading the plot's files ----

SVG = "{http://www.w3.org/2000/svg}"


def svg_series(path):
    """{gid: points} of an SVG from moesweep.plot: a series drawn with
    markers counts its <use> elements, a line its path's vertices."""
    out = {}
    for g in ET.parse(path).iter(SVG + "g"):
        gid = g.get("id")
        if gid is None:
            continue
        uses = list(g.iter(SVG + "use"))
        if uses:
            out[gid] = len(uses)
            continue
        paths = list(g.iter(SVG + "path"))
        if len(paths) == 1:
            out[gid] = len(re.findall(r"[ML]", paths[0].get("d", "")))
        else:
            out[gid] = None  # a group of something else (axes, legend)
    return out


def png_size(path):
    """(width, height) from a PNG's IHDR chunk."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise AssertionError(f"{path} is not a PNG")
    return struct.unpack(">II", head[16:24])
