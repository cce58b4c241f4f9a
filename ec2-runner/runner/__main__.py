"""Command line: ``python -m runner run | restore [--date YYYY-MM-DD] [--force] | analyze PATH``.

Exit codes of ``run`` and ``restore``: 0 done, 1 failed (restore: no usable snapshot;
run: cold stop), 2 bad settings, 3 runner.db is in use by another process.

``chalicelib`` (the shared contracts) comes from the installed repository (``pip install
-e .``), or from PYTHONPATH as systemd sets it on the instance.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from typing import Any

EXIT_DB_BUSY = 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m runner", description="AutoStack's runner")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="poll the jobs queue and run jobs (the systemd service)")
    run.add_argument("--max-jobs", type=int, default=None, help="leave after this many messages")
    run.add_argument("--burst", action="store_true", help="leave when the queue is empty")
    run.add_argument(
        "--idle-exit", type=float, default=None, metavar="SECONDS", help="leave after idling"
    )
    restore = commands.add_parser("restore", help="restore runner.db from an S3 snapshot")
    restore.add_argument(
        "--date",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="the newest snapshot of that day (default: the newest of all)",
    )
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore even while a runner uses runner.db (it keeps writing to the old file)",
    )
    commands.add_parser("analyze", help="analyze a local archive or folder (see analyze --help)")
    return parser


def _settings():  # type: ignore[no-untyped-def]
    from runner.settings import RunnerSettings, SettingsError

    try:
        return RunnerSettings.from_env()
    except SettingsError as exc:
        print(f"runner: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _check_terraform_settings() -> None:
    """Fail at start (exit 2, naming the variable) on a bad AUTOSTACK_TERRAFORM_* value,
    rather than at the first Terraform job; the job handler reads them again when used."""
    import os

    from runner.sandbox import Sandbox, SandboxError
    from runner.terraform import TerraformSettings, TerraformSettingsError

    try:
        TerraformSettings.from_environ(os.environ)
        Sandbox.for_runner((), os.environ).check()  # Terraform never runs outside it
    except (TerraformSettingsError, SandboxError) as exc:
        print(f"runner: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _idle_stop(settings: Any, clients: Any) -> Any:
    """The idle stop, when it applies: AUTOSTACK_RUNNER_IDLE_STOP_S > 0 and the instance
    is known (AUTOSTACK_RUNNER_INSTANCE_ID, or in prod the instance metadata)."""
    from runner.chores import IdleStop, IdleStopError, instance_id_from_imds

    if settings.idle_stop_s <= 0:
        return None
    instance_id = settings.instance_id
    if instance_id is None:
        if settings.stage != "prod":
            return None  # locally there is no instance to stop unless one is named
        try:
            instance_id = instance_id_from_imds()
        except IdleStopError as exc:
            print(f"runner: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
    import boto3

    ec2 = boto3.session.Session(region_name=settings.region).client(
        "ec2", endpoint_url=settings.endpoint_url
    )
    return IdleStop(
        ec2=ec2,
        instance_id=instance_id,
        sqs=clients.sqs,
        queue_url=settings.queue_url,
        dynamodb=clients.dynamodb,
        table=settings.table,
        after_s=settings.idle_stop_s,
    )


def run(args: argparse.Namespace) -> int:
    from runner.chores import runner_chores
    from runner.clients import RunnerClients
    from runner.db_lock import RunnerDbBusyError, RunnerDbLock
    from runner.ledger import Ledger
    from runner.logging import configure, get_logger
    from runner.shipping.local import reap_left_apps
    from runner.worker import ColdStopError, Worker

    settings = _settings()
    _check_terraform_settings()
    configure(settings.log_level)
    db_lock = RunnerDbLock(settings.runner_db)
    try:
        db_lock.acquire()  # held until this process exits
    except RunnerDbBusyError as exc:
        print(f"runner: {exc}; not starting a second runner on it", file=sys.stderr)
        return EXIT_DB_BUSY
    ledger = Ledger(settings.runner_db)
    # Under the database lock: the apps a killed runner of this database left running.
    reap_left_apps(settings.runner_db, get_logger("runner.shipping").warning)
    clients = RunnerClients.from_settings(settings)
    worker = Worker(settings, clients, ledger, idle_stop=_idle_stop(settings, clients))
    worker.chores = runner_chores(
        settings,
        sqs=clients.sqs,
        store=worker.store,
        ledger=ledger,
        version=worker.version,
        current_job=lambda: worker.current_job,
    )
    worker.install_signal_handlers()
    try:
        worker.run(max_jobs=args.max_jobs, burst=args.burst, idle_exit_s=args.idle_exit)
    except ColdStopError:
        return 1
    finally:
        ledger.close()
        db_lock.release()
    return 0


def restore(args: argparse.Namespace) -> int:
    from runner.backup import RestoreError
    from runner.backup import restore as restore_snapshot
    from runner.clients import RunnerClients
    from runner.db_lock import RunnerDbBusyError, RunnerDbLock

    settings = _settings()
    db_lock = RunnerDbLock(settings.runner_db)
    try:
        db_lock.acquire()  # a runner starting meanwhile refuses until the file is swapped
    except RunnerDbBusyError as exc:
        if not args.force:
            print(
                f"runner restore: {exc}. Stop the runner first (sudo /usr/local/sbin/"
                "autostack-restore does), or pass --force to restore under it anyway.",
                file=sys.stderr,
            )
            return EXIT_DB_BUSY
        print(
            f"runner restore: --force: {exc}; restoring anyway. Restart that runner now:"
            " until then it keeps writing to the replaced file.",
            file=sys.stderr,
        )
    try:
        snap = restore_snapshot(
            RunnerClients.from_settings(settings).s3, settings.bucket, settings.runner_db, args.date
        )
    except RestoreError as exc:
        print(f"runner restore: {exc}", file=sys.stderr)
        return 1
    finally:
        db_lock.release()
    print(f"restored {settings.runner_db} from s3://{settings.bucket}/{snap.key}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "analyze":
        from runner.analysis.cli import main as analyze_main

        return int(analyze_main(args_list[1:]) or 0)
    args = _parser().parse_args(args_list)
    if args.command == "run":
        return run(args)
    return restore(args)


if __name__ == "__main__":
    raise SystemExit(main())
