"""In-memory S3 and SQS for service tests on the fakes (the same calls the services make
through boto3; the functional tier runs the same services on the emulator)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any


class _NoSuchKeyError(Exception):
    pass


class _Exceptions:
    NoSuchKey = _NoSuchKeyError


class _Paginator:
    def __init__(self, s3: FakeS3) -> None:
        self._s3 = s3

    def paginate(self, Bucket: str, Prefix: str = "", **_: Any) -> Iterator[dict[str, Any]]:
        keys = sorted(k for k in self._s3.objects if k.startswith(Prefix))
        yield {"Contents": [{"Key": k, "Size": len(self._s3.objects[k])} for k in keys]}


class FakeS3:
    exceptions = _Exceptions

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes | str, **_: Any) -> dict[str, Any]:
        self.objects[Key] = Body.encode() if isinstance(Body, str) else Body
        return {}

    def get_object(self, Bucket: str, Key: str, Range: str | None = None) -> dict[str, Any]:
        if Key not in self.objects:
            raise _NoSuchKeyError(Key)
        body = self.objects[Key]
        if Range is not None:  # "bytes=a-b", both ends included
            first, _, last = Range.removeprefix("bytes=").partition("-")
            body = body[int(first) : int(last) + 1 if last else None]
        return {"Body": io.BytesIO(body)}

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if Key not in self.objects:
            raise _NoSuchKeyError(Key)
        return {"ContentLength": len(self.objects[Key])}

    def delete_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.objects.pop(Key, None)
        return {}

    def get_paginator(self, name: str) -> _Paginator:
        assert name == "list_objects_v2"
        return _Paginator(self)

    def generate_presigned_post(self, Bucket: str, Key: str, **_: Any) -> dict[str, Any]:
        return {"url": f"https://s3.test/{Bucket}", "fields": {"key": Key}}


class FakeSqs:
    def __init__(self) -> None:
        self.sent: list[str] = []
        self.fail_with: Exception | None = None

    def send_message(self, QueueUrl: str, MessageBody: str, **_: Any) -> dict[str, Any]:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(MessageBody)
        return {"MessageId": str(len(self.sent))}


class FakeAws:
    """What ``AppContext.aws`` offers the services: ``s3`` and ``sqs`` (the table is
    ``ctx.stores``, in memory)."""

    def __init__(self) -> None:
        self.s3 = FakeS3()
        self.sqs = FakeSqs()
