"""Load an API table export (``backups/api/YYYY-MM-DD.jsonl.gz``) into an EMPTY table.

    .venv/bin/python scripts/restore_api_backup.py [--date YYYY-MM-DD] [--table NAME]

Default: the newest export, into the table of the settings (AUTOSTACK_TABLE).
Refuses a table that has any item, and an export whose checksum does not match.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

# chalicelib comes from the installed repository (`pip install -e .`, done by `make venv`).
from chalicelib.context import build_context
from chalicelib.services.backup_export import (
    BackupRestoreError,
    export_key,
    latest_export_key,
    restore_table,
)
from chalicelib.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--date", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD")
    parser.add_argument("--table", default=None, help="target table (default AUTOSTACK_TABLE)")
    args = parser.parse_args(argv)
    context = build_context(load_settings())
    bucket = context.settings.bucket
    key = export_key(args.date) if args.date else latest_export_key(context.aws.s3, bucket)
    if key is None:
        print("no export under backups/api/", file=sys.stderr)
        return 1
    table = args.table or context.settings.table
    try:
        count = restore_table(
            context.aws.dynamodb, context.aws.s3, table=table, bucket=bucket, key=key
        )
    except BackupRestoreError as exc:
        print(f"restore failed: {exc}", file=sys.stderr)
        return 1
    print(f"restored {count} items from s3://{bucket}/{key} into {table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
