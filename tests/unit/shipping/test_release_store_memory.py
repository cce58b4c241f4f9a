"""The releases store (memory backend; the DynamoDB one shares the logic)."""

from __future__ import annotations

import pytest

from chalicelib import keys
from chalicelib.store.registry import memory_stores
from chalicelib.store.releases import ReleaseNotFoundError


def test_put_get_list_newest_first_and_per_stack() -> None:
    stores = memory_stores()
    for release_id, at, stack in (
        ("r1", 10.0, "main"),
        ("r3", 30.0, "main"),
        ("r2", 20.0, "other"),
    ):
        stores.releases.put(
            "p", release_id,
            {"status": "building", "created_at_epoch": at, "stack": stack, "image_tag": "src-x"},
        )  # fmt: skip
    assert [r["release_id"] for r in stores.releases.list_project("p")] == ["r3", "r2", "r1"]
    assert [r["release_id"] for r in stores.releases.list_project("p", "main")] == ["r3", "r1"]
    item = stores.releases.get("p", "r1")
    assert item is not None
    assert item["sk"] == keys.release_sk("r1") and item["pk"] == keys.project_pk("p")
    assert stores.releases.list_project("other-project") == []


def test_put_refuses_an_existing_id_and_a_bad_status() -> None:
    stores = memory_stores()
    stores.releases.put("p", "r1", {"status": "building"})
    with pytest.raises(ValueError, match="already exists"):
        stores.releases.put("p", "r1", {"status": "building"})
    with pytest.raises(ValueError, match="status"):
        stores.releases.put("p", "r2", {"status": "nearly"})
    assert stores.releases.get("p", "r2") is None


def test_set_status_changes_only_existing_releases() -> None:
    stores = memory_stores()
    stores.releases.put("p", "r1", {"status": "building"})
    new = stores.releases.set_status("p", "r1", "live", url="http://127.0.0.1:1")
    assert (new["status"], new["url"]) == ("live", "http://127.0.0.1:1")
    with pytest.raises(ReleaseNotFoundError):
        stores.releases.set_status("p", "nope", "live")
    assert stores.releases.get("p", "nope") is None
    with pytest.raises(ValueError, match="status"):
        stores.releases.set_status("p", "r1", "bogus")
