"""The ``bsonflow-ray`` command: plan an export, run its tasks on Ray, commit it.

1. ``bsonflow plan INPUT --out DEST ...`` runs here and prints the plan (JSON).
2. Each task of the plan becomes one Ray task that runs ``bsonflow run-task`` on a worker.
3. Once every task has succeeded, ``bsonflow commit`` runs here and writes ``DEST/.complete``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from . import task as task_module

EPILOG = """\
Everything after a lone `--` is passed to `bsonflow plan` as it is (e.g. -- --include 'shop.*').

examples:
  # a local Ray cluster on this machine, 8 tasks of 2 threads at a time
  bsonflow-ray dump/ --out /data/export --num-cpus 16 --cpus-per-task 2

  # from object storage to object storage on a running cluster (KubeRay: run it in the head
  # pod, or submit it with `ray job submit`); workers use their own AWS_* environment
  bsonflow-ray s3://backups/shop.tar.zst --out s3://exports/shop --address auto \\
      --target-bytes 1G --bsonflow /usr/local/bin/bsonflow

  # the same, handing this shell's credentials to the tasks (explicit opt-in)
  bsonflow-ray s3://backups/shop.tar.zst --out s3://exports/shop --address auto \\
      --forward-env AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY

  # as a Ray job (the entrypoint gets RAY_ADDRESS, so no --address is needed)
  ray job submit -- bsonflow-ray s3://backups/shop.tar.zst --out s3://exports/shop

  # Ray on Databricks, in a notebook (setup_ray_cluster sets RAY_ADDRESS in the notebook's
  # process, and the command inherits it):
  #   from ray.util.spark import setup_ray_cluster
  #   setup_ray_cluster(max_worker_nodes=4)
  #   subprocess.run(["bsonflow-ray", "s3://backups/shop.tar.zst", "--out",
  #                   "s3://exports/shop", "--bsonflow", "/usr/local/bin/bsonflow"], check=True)

The bsonflow binary must exist at the same path (--bsonflow) on every node. run-task is
idempotent: a task that fails (status, kill, lost worker) is retried up to --max-retries times.
Exit status: 0 = the export is complete (commit succeeded); 1 = a task or the commit failed;
2 = bad usage or the plan failed.
"""


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the command line; the arguments after a lone ``--`` go to ``bsonflow plan``."""
    argv = list(argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(
        prog="bsonflow-ray",
        description="Run a bsonflow export on a Ray cluster: `bsonflow plan` here, one Ray task\n"
                    "per plan task (`bsonflow run-task` on a worker), then `bsonflow commit` here.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input", metavar="INPUT", help="what to convert: a local path or s3://, oss://, https:// URL")
    p.add_argument("--out", required=True, metavar="DEST",
                   help="the export: a folder every node can reach (shared file system) or s3://BUCKET/PREFIX")
    plan = p.add_argument_group("passed to `bsonflow plan`")
    plan.add_argument("--target-bytes", metavar="N", help="input bytes per task (e.g. 256M, 1G)")
    plan.add_argument("--chunk-bytes", metavar="N", help="input BSON per chunk file (e.g. 256M)")
    plan.add_argument("--format", metavar="F", help="canonical or relaxed Extended JSON")
    plan.add_argument("--endpoint", metavar="URL", help="S3-compatible endpoint of s3:// INPUT/DEST")
    plan.add_argument("--region", metavar="R", help="object storage region")
    ray_opts = p.add_argument_group("Ray")
    ray_opts.add_argument("--bsonflow", default="bsonflow", metavar="PATH",
                          help="the bsonflow binary, here and on every worker (default: bsonflow on PATH)")
    ray_opts.add_argument("--address", metavar="ADDR",
                          help="join this cluster (auto, ray://HOST:10001, HOST:6379); default: "
                               "$RAY_ADDRESS if set, else a new local cluster on 127.0.0.1")
    ray_opts.add_argument("--num-cpus", type=int, metavar="N",
                          help="CPUs of the local cluster (default: all); ignored with --address")
    ray_opts.add_argument("--cpus-per-task", type=int, default=1, metavar="C",
                          help="CPUs each task reserves, and run-task's --threads (default: 1)")
    ray_opts.add_argument("--max-retries", type=int, default=3, metavar="R",
                          help="retries of a failed task, whether run-task failed or its worker died (default: 3)")
    ray_opts.add_argument("--forward-env", default="", metavar="VAR1,VAR2",
                          help="copy these environment variables of this shell to the tasks "
                               "(runtime_env); by default workers use their own environment")
    args = p.parse_args(argv)
    args.plan_extra = extra
    if args.cpus_per_task < 1:
        p.error("--cpus-per-task must be at least 1")
    if args.max_retries < 0:
        p.error("--max-retries must be 0 or more")
    if args.num_cpus is not None and args.num_cpus < 1:
        p.error("--num-cpus must be at least 1")
    args.forward = [v.strip() for v in args.forward_env.split(",") if v.strip()]
    missing = [v for v in args.forward if v not in os.environ]
    if missing:
        p.error(f"--forward-env: not set in this environment: {', '.join(missing)}")
    return args


def plan_command(args: argparse.Namespace) -> list[str]:
    """The ``bsonflow plan`` command line for these options."""
    cmd = [args.bsonflow, "plan", args.input, "--out", args.out]
    for flag in ("target_bytes", "chunk_bytes", "format", "endpoint", "region"):
        value = getattr(args, flag)
        if value is not None:
            cmd += ["--" + flag.replace("_", "-"), value]
    return cmd + args.plan_extra


def log(message: str) -> None:
    """A line of progress on stderr."""
    print(f"bsonflow-ray: {message}", file=sys.stderr, flush=True)


def mib(n: float) -> str:
    """Bytes as MiB with one decimal."""
    return f"{n / (1 << 20):.1f} MiB"


def task_bytes(entry: dict[str, Any]) -> int | None:
    """The task's input size if the plan gives one (``bson_bytes``), else None."""
    value = entry.get("bson_bytes")
    return value if isinstance(value, int) else None


def init_ray(args: argparse.Namespace) -> Any:
    """Import Ray and join ``--address`` (or ``$RAY_ADDRESS``), else start a local cluster.

    A local cluster listens on 127.0.0.1 only and has no dashboard.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    import ray  # imported late: the variables above must be set first
    from ray import cloudpickle

    # Ship the task code itself, so workers need only ray and the bsonflow binary.
    cloudpickle.register_pickle_by_value(task_module)
    address = args.address or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, logging_level=logging.WARNING)
    else:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False,
                 _node_ip_address="127.0.0.1", logging_level=logging.WARNING)
    return ray


def error_text(err: BaseException) -> str:
    """What went wrong in a task: run-task's message, or Ray's own error (lost worker...)."""
    cause = getattr(err, "cause", None)  # RayTaskError wraps the exception the task raised
    text = str(cause) if cause is not None else str(err)
    return task_module.stderr_tail(text)


def run_tasks(ray: Any, args: argparse.Namespace, plan_text: str,
              tasks: list[dict[str, Any]]) -> dict[int, str]:
    """Run every task of the plan on Ray; return the failures as {task id: error text}."""
    options: dict[str, Any] = {"num_cpus": args.cpus_per_task, "max_retries": args.max_retries,
                               "retry_exceptions": True}
    if args.forward:
        options["runtime_env"] = {"env_vars": {v: os.environ[v] for v in args.forward}}
    remote = ray.remote(task_module.run_task).options(**options)
    plan_ref = ray.put(plan_text)  # one copy in the object store, not one per task
    pending = {remote.remote(plan_ref, t["id"], args.bsonflow, args.cpus_per_task): t for t in tasks}

    total_bytes = sum(task_bytes(t) or 0 for t in tasks)
    show_bytes = total_bytes > 0 and all(task_bytes(t) is not None for t in tasks)
    done, done_bytes, failures = 0, 0, {}
    last_report = time.monotonic()
    while pending:
        ready, _ = ray.wait(list(pending), num_returns=1, timeout=10.0)
        for ref in ready:
            entry = pending.pop(ref)
            try:
                ray.get(ref)
            except Exception as err:  # noqa: BLE001 - every task error is reported, none raised
                failures[entry["id"]] = error_text(err)
                log(f"task {entry['id']} ({entry.get('ns', '?')}) failed after its retries")
            done += 1
            done_bytes += task_bytes(entry) or 0
        if ready or time.monotonic() - last_report >= 30:
            size = f", {mib(done_bytes)} of {mib(total_bytes)}" if show_bytes else ""
            log(f"{done}/{len(tasks)} tasks done{size}" + (f", {len(failures)} failed" if failures else ""))
            last_report = time.monotonic()
    return failures


def run(args: argparse.Namespace) -> int:
    """Plan, run the tasks, commit; the exit status of ``bsonflow-ray``."""
    cmd = plan_command(args)
    try:
        planned = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    except OSError as err:
        log(f"cannot run {args.bsonflow!r}: {err}")
        return 2
    if planned.returncode != 0:
        log(f"bsonflow plan {task_module.describe_status(planned.returncode)}")
        return 2
    plan_text = planned.stdout.decode("utf-8")
    tasks: list[dict[str, Any]] = json.loads(plan_text)["tasks"]
    log(f"plan: {len(tasks)} tasks")

    with tempfile.TemporaryDirectory(prefix="bsonflow-ray-") as tmp:
        plan_path = os.path.join(tmp, "plan.json")
        with open(plan_path, "w", encoding="utf-8") as f:
            f.write(plan_text)
        ray = init_ray(args)
        try:
            failures = run_tasks(ray, args, plan_text, tasks) if tasks else {}
        finally:
            ray.shutdown()
        if failures:
            log(f"{len(failures)} of {len(tasks)} tasks failed; the export is not committed. "
                "Rerun the same command to finish it.")
            for task_id in sorted(failures):
                print(f"--- task {task_id}:\n{failures[task_id]}", file=sys.stderr)
            return 1
        log("every task succeeded; committing")
        committed = subprocess.run([args.bsonflow, "commit", plan_path], stdin=subprocess.DEVNULL)
        if committed.returncode != 0:
            log(f"bsonflow commit {task_module.describe_status(committed.returncode)}")
            return 1
    log(f"export complete: {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bsonflow-ray`` console script."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
