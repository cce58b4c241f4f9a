"""Run the daily backup now: export the API table to S3 and queue a runner.db snapshot.

The same code as the scheduled Lambda ``daily_backup``. Reads the API's settings
from the environment (``make run`` prints them; the local stack sets them).
``--every SECONDS`` repeats it (the local stack's once-a-day timer, since
``chalice local`` does not run schedules).

    .venv/bin/python scripts/backup_now.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time

# chalicelib comes from the installed repository (`pip install -e .`, done by `make venv`).
from chalicelib.context import build_context
from chalicelib.services.backup_export import run_daily_backup
from chalicelib.settings import load_settings


def backup_once() -> dict[str, object]:
    context = build_context(load_settings())
    result = run_daily_backup(context, request_id=f"backup-now-{int(time.time())}")
    return {
        "export_key": result.export.key,
        "items": result.export.items,
        "sha256": result.export.sha256,
        "snapshot_job_id": result.snapshot_job_id,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=float, default=None, metavar="SECONDS")
    args = parser.parse_args(argv)
    if args.every is None:
        print(json.dumps(backup_once()))
        return 0
    while True:  # the timer: first run after one period, like a daily schedule
        time.sleep(args.every)
        try:
            print(json.dumps(backup_once()), flush=True)
        except Exception as exc:  # keep the timer alive; the next day tries again
            print(json.dumps({"error": str(exc)}), file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
