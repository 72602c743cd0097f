"""What one Ray task does: run ``bsonflow run-task`` for one entry of the plan.

This module uses the standard library only. The driver ships it to the workers by value
(``cloudpickle.register_pickle_by_value``), so a Ray cluster needs ``ray`` and the
``bsonflow`` binary on every node, but not this package.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time

#: How many lines of run-task's stderr an error carries.
TAIL_LINES = 20


class RunTaskError(RuntimeError):
    """``bsonflow run-task`` could not be started or ended with a non-zero status.

    The message names the task, how the process ended and the last lines of its stderr.
    Ray retries a task that raises this (``retry_exceptions=True``); ``run-task`` is
    idempotent, so a retry simply writes the task's files again.
    """


def stderr_tail(text: str, lines: int = TAIL_LINES) -> str:
    """The last ``lines`` non-empty lines of ``text``."""
    kept = [line for line in text.splitlines() if line.strip()]
    return "\n".join(kept[-lines:])


def describe_status(code: int) -> str:
    """``exited with status 1`` or ``was killed by signal 9`` for a Popen return code."""
    if code < 0:
        return f"was killed by signal {-code}"
    return f"exited with status {code}"


def run_task(plan_text: str, task_id: int, binary: str, threads: int,
             tmp_dir: str | None = None) -> dict[str, float]:
    """Run ``BINARY run-task PLAN --task TASK_ID --threads THREADS`` on this node.

    ``plan_text`` is written to a temporary file first (the plan holds no credentials;
    the process takes those from this worker's environment). Returns the task id and the
    seconds it took; raises :class:`RunTaskError` if the process fails.
    """
    fd, plan_path = tempfile.mkstemp(prefix="bsonflow-plan-", suffix=".json", dir=tmp_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(plan_text)
        argv = [binary, "run-task", plan_path, "--task", str(task_id), "--threads", str(threads)]
        started = time.monotonic()
        try:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, errors="replace")
        except OSError as err:  # binary missing or not executable on this node
            raise RunTaskError(f"task {task_id}: cannot start {binary!r}: {err}") from None
        if proc.returncode != 0:
            raise RunTaskError(f"task {task_id}: bsonflow run-task {describe_status(proc.returncode)}"
                               f"\n{stderr_tail(proc.stderr)}".rstrip())
        return {"id": task_id, "seconds": time.monotonic() - started}
    finally:
        try:
            os.unlink(plan_path)
        except OSError:
            pass
