"""moto's server with each DynamoDB request made atomic, like DynamoDB itself.

moto's server answers requests on threads, and its DynamoDB backend is plain
Python with no locking: two concurrent conditional writes can both pass their
condition, and a failed TransactWriteItems restores a copy of the whole table
taken before it started, erasing writes made by others meanwhile. DynamoDB
guarantees that each request is atomic; the race tests (and several runners
claiming jobs) depend on that. So every DynamoDB request runs under one lock
here; other services (S3, SQS long polls) stay concurrent.

Usage: python scripts/emulator_server.py -H 127.0.0.1 -p 5000  (same as moto.server)
"""

from __future__ import annotations

import sys
import threading
from typing import Any

_dynamodb_lock = threading.Lock()


def make_dynamodb_atomic() -> None:
    """Serialize DynamoDB request handling in this process (idempotent)."""
    from moto.dynamodb.responses import DynamoHandler

    if getattr(DynamoHandler, "_autostack_atomic", False):
        return
    original = DynamoHandler.call_action

    def call_action(self: Any) -> Any:
        with _dynamodb_lock:
            return original(self)

    DynamoHandler.call_action = call_action  # type: ignore[method-assign]
    DynamoHandler._autostack_atomic = True  # type: ignore[attr-defined]


def main(argv: list[str]) -> None:
    make_dynamodb_atomic()
    from moto.server import main as moto_main

    moto_main(argv)


if __name__ == "__main__":
    main(sys.argv[1:])
