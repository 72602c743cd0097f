"""End-to-end test of ``bsonflow-ray`` on a local Ray cluster, with one run-task killed.

Run it as ``python contrib/ray/tests/test_driver.py`` (or under pytest) in an environment
where ``./contrib/ray`` and ``pymongo`` are installed. It uses the real bsonflow binary,
``$BSONFLOW_BIN`` or ``target/debug/bsonflow`` (``cargo build -p bsonflow``), and skips
(exit 0, ``SKIPPED: ...``) when that is absent, unless ``BSONFLOW_REQUIRE_SHARED=1``.

It converts a generated mongodump folder twice: once with ``bsonflow convert`` (the
reference) and once with ``bsonflow-ray`` (2 CPUs, tasks of about 4 MiB), while a watcher
SIGKILLs the first ``bsonflow run-task`` process it sees once that process has begun to
write. The driver must retry that task and produce the same export as the reference.
"""

from __future__ import annotations

import datetime
import gzip
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
BIG_BYTES = 24 << 20


class Skip(Exception):
    """The test cannot run here (the reason is its message)."""


def find_binary() -> Path:
    """``$BSONFLOW_BIN``, else ``target/debug/bsonflow`` of this repository."""
    value = os.environ.get("BSONFLOW_BIN")
    path = Path(value) if value else REPO / "target" / "debug" / "bsonflow"
    if not path.is_absolute():
        path = (REPO / path) if not path.exists() else path.resolve()
    if not os.access(path, os.X_OK):
        raise Skip(f"no bsonflow binary at {path} (cargo build -p bsonflow, or set BSONFLOW_BIN)")
    return path.resolve()


def driver_command() -> list[str]:
    """The ``bsonflow-ray`` console script next to this Python, else ``python -m bsonflow_ray``."""
    for module in ("ray", "bson", "bsonflow_ray"):
        try:
            __import__(module)
        except ImportError:
            raise Skip(f"Python module {module} is not installed (pip install ./contrib/ray pymongo)") from None
    script = Path(sys.executable).parent / "bsonflow-ray"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bsonflow_ray"]


# ---------------------------------------------------------------------------- the input


def make_document(rng: random.Random, i: int) -> dict:
    """A deterministic, order-like document with varied BSON types."""
    from bson import Binary, Decimal128, Int64, ObjectId

    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
             "juliett", "kilo", "lima", "mike", "ñandú", "日本", "Zürich"]
    base = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    doc: dict = {
        "_id": ObjectId(rng.getrandbits(96).to_bytes(12, "big")),
        "seq": i,
        "customer": {
            "name": " ".join(rng.choice(words) for _ in range(rng.randint(1, 3))),
            "email": f"user{rng.randint(0, 99999)}@example.com",
            "address": {"city": rng.choice(words), "zip": f"{rng.randint(0, 99999):05d}",
                        "geo": [rng.uniform(-180, 180), rng.uniform(-90, 90)]},
            "vip": rng.random() < 0.1,
        },
        "created": base + datetime.timedelta(milliseconds=rng.randint(0, 10**10)),
        "total": Decimal128(f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}"),
        "items": [{"sku": f"SKU-{rng.randint(0, 9999):04d}", "qty": rng.randint(1, 9),
                   "price": round(rng.uniform(0.5, 500), 2), "tags": rng.sample(words, rng.randint(0, 4))}
                  for _ in range(rng.randint(1, 12))],
        "big": Int64(rng.getrandbits(62)),
        "note": None if rng.random() < 0.3 else "lorem ipsum " * rng.randint(1, 40),
        "ratio": rng.choice([0.0, -0.0, 1.5, 1e300, float("inf"), rng.random()]),
    }
    if rng.random() < 0.5:
        doc["blob"] = Binary(rng.randbytes(rng.randint(16, 1500)))
    if rng.random() < 0.2:
        doc["uuid"] = Binary(rng.randbytes(16), 4)
    return doc


def write_dump(root: Path) -> None:
    """A mongodump folder ``root/shop`` with ``big`` (~24 MiB) and ``small`` collections."""
    import bson

    shop = root / "shop"
    shop.mkdir(parents=True)
    rng = random.Random(20240601)
    metadata = '{"options":{},"indexes":[{"v":2,"key":{"_id":1},"name":"_id_"}]}'
    for name, limit in (("big", BIG_BYTES), ("small", 64 << 10)):
        size, i = 0, 0
        with open(shop / f"{name}.bson", "wb") as f:
            while size < limit:
                data = bson.encode(make_document(rng, i))
                f.write(data)
                size += len(data)
                i += 1
        (shop / f"{name}.metadata.json").write_text(metadata)


# ---------------------------------------------------------------------------- the killer


def run_task_processes(binary: Path) -> list[tuple[int, list[str]]]:
    """(pid, argv) of every running ``run-task`` process of ``binary`` (started by its path)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        for i in range(1, len(argv)):
            if argv[i] == "run-task" and argv[i - 1] == str(binary):  # not the wrapper script
                found.append((int(entry), argv))
                break
    return found


def has_output(dest: Path) -> bool:
    """Whether any chunk file, finished or not, exists under ``dest`` yet."""
    for _, _, files in os.walk(dest):
        if any(name.endswith((".json.gz", ".partial")) for name in files):
            return True
    return False


class Killer(threading.Thread):
    """SIGKILLs the first run-task process once it writes output or has run 0.2 s."""

    def __init__(self, binary: Path, dest: Path) -> None:
        super().__init__(daemon=True)
        self.binary, self.dest = binary, dest
        self.stop = threading.Event()
        self.killed: tuple[int, str] | None = None  # (pid, task id)
        self.reason = ""

    def run(self) -> None:
        first_seen: dict[int, float] = {}
        while not self.stop.is_set() and self.killed is None:
            now = time.monotonic()
            for pid, argv in run_task_processes(self.binary):
                first_seen.setdefault(pid, now)
                output = has_output(self.dest)
                if output or now - first_seen[pid] >= 0.2:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        continue
                    self.killed = (pid, argv[argv.index("--task") + 1])
                    self.reason = "once output had appeared" if output else "after 0.2 s"
                    break
            time.sleep(0.02)


# ---------------------------------------------------------------------------- comparing


def files_under(root: Path) -> dict[str, Path]:
    """Relative path -> path of every file under ``root``."""
    return {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file()}


def compare_exports(ref: Path, dest: Path) -> None:
    """Assert that ``dest`` holds the same export as ``ref``."""
    ref_files, dest_files = files_under(ref), files_under(dest)
    leftovers = [n for n in dest_files if n.startswith(".bsonflow/") or n.endswith(".partial")]
    assert not leftovers, f"left in the export: {leftovers}"
    assert ".complete" in dest_files, "no .complete in the export"
    names = lambda files: sorted(n for n in files if n != ".complete")  # noqa: E731
    assert names(dest_files) == names(ref_files), f"files differ:\n{names(ref_files)}\n{names(dest_files)}"
    chunks = 0
    for name, path in ref_files.items():
        if name.endswith(".json.gz"):
            chunks += 1
            with gzip.open(path) as a, gzip.open(dest_files[name]) as b:
                assert a.read() == b.read(), f"{name}: content differs"
        elif name.endswith("metadata.json"):
            assert path.read_bytes() == dest_files[name].read_bytes(), f"{name} differs"
    complete = json.loads((dest / ".complete").read_text())
    assert complete["totalFiles"] == chunks, f".complete totalFiles {complete['totalFiles']} != {chunks}"
    assert chunks > 10, f"only {chunks} chunk files: the test data is too small to split"


# ---------------------------------------------------------------------------- the test


def test_driver_survives_a_killed_task() -> None:
    """bsonflow-ray retries a SIGKILLed run-task and writes the same export as convert."""
    try:
        binary, driver = find_binary(), driver_command()
    except Skip as why:
        if os.environ.get("BSONFLOW_REQUIRE_SHARED") == "1":
            raise AssertionError(f"BSONFLOW_REQUIRE_SHARED=1 but {why}") from None
        if "pytest" not in sys.modules:  # run as a script: main() reports the skip
            raise why from None
        sys.modules["pytest"].skip(str(why))

    with tempfile.TemporaryDirectory(prefix="bsonflow-ray-test-") as tmp_name:
        tmp = Path(tmp_name)
        t0 = time.monotonic()
        write_dump(tmp / "dump")
        t1 = time.monotonic()
        ref = subprocess.run([str(binary), "convert", str(tmp / "dump"), "--out", str(tmp / "ref"),
                              "--chunk-bytes", "1M", "--quiet"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        assert ref.returncode == 0, f"bsonflow convert exited with {ref.returncode}:\n{ref.stdout}"
        t2 = time.monotonic()

        # Every start of the binary is logged by this wrapper, then the binary replaces it.
        starts = tmp / "starts.log"
        wrapper = tmp / "bin" / binary.name
        wrapper.parent.mkdir()
        wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{starts}"\nexec "{binary}" "$@"\n')
        wrapper.chmod(0o755)

        dest = tmp / "dest"
        killer = Killer(binary, dest)
        killer.start()
        cmd = driver + [str(tmp / "dump"), "--out", str(dest), "--chunk-bytes", "1M",
                        "--target-bytes", "4M", "--num-cpus", "2", "--cpus-per-task", "1",
                        "--max-retries", "3", "--bsonflow", str(wrapper)]
        env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}  # a local cluster
        proc = subprocess.run(cmd, cwd=tmp, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=300)
        killer.stop.set()
        killer.join()
        t3 = time.monotonic()
        print(proc.stdout, end="")
        assert proc.returncode == 0, f"bsonflow-ray exited with {proc.returncode}"
        assert killer.killed is not None, "no run-task process was killed"

        pid, task = killer.killed
        runs = [line.split() for line in starts.read_text().splitlines() if line.startswith("run-task ")]
        task_runs = sum(1 for argv in runs if argv[argv.index("--task") + 1] == task)
        assert task_runs >= 2, f"task {task} (pid {pid} killed) ran {task_runs} time(s), not again"
        planned = re.search(r"plan: (\d+) tasks", proc.stdout)
        assert planned, "the driver did not say how many tasks the plan has"
        tasks = int(planned.group(1))
        assert tasks >= 4, f"the plan has {tasks} tasks; expected the big collection to be split"
        compare_exports(tmp / "ref", dest)
        print(f"killed run-task pid {pid} (task {task}) {killer.reason}; it ran {task_runs} times; "
              f"{len(runs)} run-task starts for {tasks} tasks")
        print(f"timings: input {t1 - t0:.1f} s, reference convert {t2 - t1:.1f} s, "
              f"bsonflow-ray {t3 - t2:.1f} s")


def main() -> int:
    """Run the test as a script: exit 0 on success or skip, 1 on failure."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        test_driver_survives_a_killed_task()
    except Skip as why:
        print(f"SKIPPED: bsonflow-ray test: {why}")
        return 0
    except AssertionError as err:
        print(f"FAILED: bsonflow-ray test: {err}")
        print("0 passed, 1 failed")
        return 1
    print("1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
