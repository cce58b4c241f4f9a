"""Hostile archives are refused with their reason, and nothing lands outside the temp folder."""

from __future__ import annotations

import io
import os
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from runner.analysis import ArchiveLimits, ArchiveRefusedError, analyze_archive
from tests.unit.analysis.helpers import make_targz, make_zip, snapshot

APP = {
    "requirements.txt": "flask==3.0.0\n",
    "app.py": "from flask import Flask\napp = Flask(__name__)\n",
}


@pytest.fixture
def sandbox(tmp_path: Path):
    """(work_root, archive folder); checks afterwards that work_root is empty and that nothing
    else appeared under tmp_path."""
    work = tmp_path / "work"
    work.mkdir()
    archives = tmp_path / "archives"
    archives.mkdir()
    yield work, archives
    assert list(work.iterdir()) == [], "the private temp folder was not removed"


def refused(
    path: Path, work: Path, reason: str, limits: ArchiveLimits | None = None
) -> ArchiveRefusedError:
    parent = work.parent
    before = snapshot(parent) - {p for p in snapshot(parent) if p.startswith("archives")}
    with pytest.raises(ArchiveRefusedError) as info:
        analyze_archive(path, limits=limits, work_root=work)
    after = snapshot(parent) - {p for p in snapshot(parent) if p.startswith("archives")}
    assert after == before, f"files appeared outside the temp folder: {after - before}"
    assert info.value.reason == reason, str(info.value)
    return info.value


def _zip_with_symlink(path: Path, name: str, target: str) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("app.py", "print(1)\n")
        info = zipfile.ZipInfo(name)
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, target)
    return path


def test_good_zip_and_targz_analyze_and_clean_up(sandbox) -> None:
    work, archives = sandbox
    for path in (make_zip(archives / "a.zip", APP), make_targz(archives / "a.tgz", APP)):
        profile = analyze_archive(path, work_root=work)
        assert [a.framework.name for a in profile.apps if a.framework] == ["flask"]
        assert list(work.iterdir()) == []


def test_format_comes_from_magic_bytes_not_the_name(sandbox) -> None:
    work, archives = sandbox
    misnamed = make_targz(archives / "code.zip", APP)
    assert analyze_archive(misnamed, work_root=work).apps[0].framework.name == "flask"


def test_single_top_folder_is_entered(sandbox) -> None:
    work, archives = sandbox
    path = make_zip(archives / "gh.zip", {f"repo-main/{k}": v for k, v in APP.items()})
    profile = analyze_archive(path, work_root=work)
    assert [a.path for a in profile.apps] == ["."]
    assert profile.apps[0].name == "repo-main"


def test_zip_slip_refused(sandbox) -> None:
    work, archives = sandbox
    path = make_zip(archives / "slip.zip", {"ok.txt": "x", "../../../evil.txt": "pwned"})
    err = refused(path, work, "path_traversal")
    assert err.entry == "../../../evil.txt"
    assert "../../../evil.txt" in str(err)


def test_tar_slip_refused(sandbox) -> None:
    work, archives = sandbox
    path = make_targz(archives / "slip.tar.gz", {"a/../../evil.txt": "pwned"})
    refused(path, work, "path_traversal")


def test_absolute_path_refused(sandbox, tmp_path: Path) -> None:
    work, archives = sandbox
    target = tmp_path / "abs_evil.txt"
    path = make_zip(archives / "abs.zip", {str(target): "pwned"})
    refused(path, work, "absolute_path")
    assert not target.exists()
    path = make_targz(archives / "abs.tgz", {"/etc/cron.d/evil": "pwned"})
    refused(path, work, "absolute_path")


def test_symlink_escape_refused_in_zip_and_tar(sandbox) -> None:
    work, archives = sandbox
    refused(
        _zip_with_symlink(archives / "link.zip", "data", "../../../etc/passwd"), work, "link_escape"
    )
    refused(_zip_with_symlink(archives / "link2.zip", "data", "/etc/passwd"), work, "link_escape")
    path = archives / "link.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        info = tarfile.TarInfo("sub/evil")
        info.type, info.linkname = tarfile.SYMTYPE, "../../outside"
        tf.addfile(info)
    refused(path, work, "link_escape")
    hard = archives / "hard.tar.gz"
    with tarfile.open(hard, "w:gz") as tf:
        info = tarfile.TarInfo("evil")
        info.type, info.linkname = tarfile.LNKTYPE, "../../etc/shadow"
        tf.addfile(info)
    refused(hard, work, "link_escape")


def test_symlink_inside_is_skipped_not_created(sandbox) -> None:
    work, archives = sandbox
    path = _zip_with_symlink(archives / "inner.zip", "alias.py", "app.py")
    profile = analyze_archive(path, work_root=work)
    assert profile.stats["archive_links_skipped"] == 1
    assert profile.stats["files_total"] == 1


def test_device_and_fifo_refused(sandbox) -> None:
    work, archives = sandbox
    for kind, name in ((tarfile.CHRTYPE, "dev.tgz"), (tarfile.FIFOTYPE, "fifo.tgz")):
        path = archives / name
        with tarfile.open(path, "w:gz") as tf:
            info = tarfile.TarInfo("node")
            info.type = kind
            tf.addfile(info)
        refused(path, work, "special_file")


def test_zip_bomb_refused_by_ratio(sandbox) -> None:
    work, archives = sandbox
    path = archives / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("readme.md", "hi")
        zf.writestr("zeros.bin", b"\0" * (60 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    err = refused(path, work, "compression_ratio")
    assert err.entry == "zeros.bin"


def test_targz_bomb_refused_by_total_ratio(sandbox) -> None:
    work, archives = sandbox
    path = make_targz(archives / "bomb.tgz", {"big.txt": b"a" * (40 * 1024 * 1024)})
    refused(path, work, "compression_ratio")


def test_total_size_counted_while_extracting(sandbox) -> None:
    work, archives = sandbox
    path = make_zip(archives / "big.zip", {f"f{i}.txt": os.urandom(4000).hex() for i in range(10)})
    limits = ArchiveLimits(max_total_bytes=50_000)
    refused(path, work, "too_large", limits)


def test_20001_files_refused(sandbox) -> None:
    work, archives = sandbox
    path = archives / "many.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(20_001):
            zf.writestr(f"d{i % 50}/f{i}.txt", "")
    err = refused(path, work, "too_many_files")
    assert "20000" in str(err)


def test_too_many_files_in_tar_counted_while_streaming(sandbox) -> None:
    work, archives = sandbox
    path = make_targz(archives / "many.tgz", {f"f{i}.txt": "x" for i in range(12)})
    refused(path, work, "too_many_files", ArchiveLimits(max_files=10))


@pytest.mark.parametrize("maker", [make_zip, make_targz])
def test_truncated_archive_refused(sandbox, maker) -> None:
    work, archives = sandbox
    files = {f"src/m{i}.py": os.urandom(3000).hex() for i in range(20)}
    path = maker(archives / "full", files)
    data = path.read_bytes()
    cut = archives / "cut"
    cut.write_bytes(data[: len(data) // 2])
    refused(cut, work, "corrupt")


def test_not_an_archive_refused(sandbox) -> None:
    work, archives = sandbox
    text = archives / "notes.zip"
    text.write_text("this is not an archive\n")
    err = refused(text, work, "not_an_archive")
    assert "not a zip" in str(err)
    empty = archives / "empty.tgz"
    empty.write_bytes(b"")
    refused(empty, work, "not_an_archive")


def test_oversized_input_refused_before_reading(sandbox) -> None:
    work, archives = sandbox
    path = archives / "huge.zip"
    with open(path, "wb") as fh:
        fh.write(b"PK\x03\x04")
        fh.truncate(10 * 1024 * 1024 + 1)
    refused(path, work, "archive_too_large")


def test_binary_and_non_utf8_files_do_not_crash(sandbox) -> None:
    work, archives = sandbox
    files = {
        **APP,
        "latin1.py": "caf\xe9 = 1\n".encode("latin-1"),
        "img.png": b"\x89PNG\0\0\xff" * 100,
        "compiled.py": b"\x00\x01\xfe\xff" * 64,
        "weird/\u00e9t\u00e9.js": "process.env.X\n",
    }
    profile = analyze_archive(make_zip(archives / "bin.zip", files), work_root=work)
    assert profile.stats["binary_files"] == 1
    assert "X" in {e.name for e in profile.env_vars}


def test_file_then_folder_with_same_name_refused(sandbox) -> None:
    work, archives = sandbox
    path = archives / "conflict.tgz"
    with tarfile.open(path, "w:gz") as tf:
        for name in ("a", "a/b"):
            data = b"x"
            info = tarfile.TarInfo(name)
            info.size = 1
            tf.addfile(info, io.BytesIO(data))
    refused(path, work, "unwritable")


def test_large_members_spill_into_the_private_folder_and_read_back(tmp_path: Path) -> None:
    from runner.analysis.archive import read_archive
    from runner.analysis.walk import list_contents

    files = {
        f"src/m{i}.py": f"import os\nX{i} = os.environ.get('V{i}', '{i}')\n" * 50 for i in range(5)
    }
    path = make_zip(tmp_path / "a.zip", files)
    spill = tmp_path / "spill"
    spill.mkdir()
    contents = read_archive(path, spill, memory_budget=3000)
    on_disk = [rel for rel, c in contents.files.items() if isinstance(c, Path)]
    assert on_disk and all(contents.files[rel].is_relative_to(spill) for rel in on_disk)
    listing = list_contents(contents.files)
    for rel, text in files.items():
        assert listing.read(rel) == text.encode()


def test_dependency_folders_are_counted_but_not_kept(tmp_path: Path) -> None:
    from runner.analysis.archive import read_archive
    from runner.analysis.walk import wanted_member

    files = {**APP, "node_modules/x/index.js": "x" * 5000, "vendor/a/b.php": "<?php\n"}
    contents = read_archive(make_zip(tmp_path / "a.zip", files), tmp_path, keep=wanted_member)
    assert sorted(contents.files) == sorted(APP)
    assert contents.stats.files == 4 and contents.stats.bytes > 5000


def test_undecodable_tar_names_and_deep_paths(sandbox) -> None:
    work, archives = sandbox
    path = archives / "names.tgz"
    with tarfile.open(path, "w:gz", encoding="utf-8", errors="surrogateescape") as tf:
        for name in ("caf\udce9.py", "ok.py"):
            info = tarfile.TarInfo(name)
            data = b"import os\nos.environ.get('A')\n"
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    profile = analyze_archive(path, work_root=work)
    profile.model_dump_json()  # serializable: no lone surrogates leak out
    assert {e.file for e in profile.env_vars[0].evidence} == {"caf\ufffd.py", "ok.py"}
    deep = make_zip(archives / "deep.zip", {"/".join(["d"] * 100) + "/x.py": "x"})
    refused(deep, work, "path_too_long")


def test_zip_declaring_too_many_entries_is_refused_before_parsing(sandbox) -> None:
    work, archives = sandbox
    path = make_zip(archives / "liar.zip", {"a.txt": "x"})
    data = bytearray(path.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    data[eocd + 8 : eocd + 12] = (60000).to_bytes(2, "little") * 2
    path.write_bytes(bytes(data))
    refused(path, work, "too_many_files")


def test_tar_stream_with_huge_headers_is_capped(sandbox) -> None:
    work, archives = sandbox
    path = archives / "pax.tgz"
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("a.txt")
        info.pax_headers = {"comment": "x" * 3_000_000}
        tf.addfile(info, io.BytesIO(b""))
    limits = ArchiveLimits(max_total_bytes=100_000, max_files=10, max_total_ratio=1e9)
    refused(path, work, "too_large", limits)


def test_plain_tar_and_macos_zip_artifacts(sandbox) -> None:
    work, archives = sandbox
    plain = archives / "plain.tar"
    with tarfile.open(plain, "w") as tf:
        for name, text in APP.items():
            data = text.encode()
            info = tarfile.TarInfo(f"./{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    assert analyze_archive(plain, work_root=work).apps[0].framework.name == "flask"
    files = {f"proj/{k}": v for k, v in APP.items()}
    files["__MACOSX/proj/._app.py"] = b"\x00\x05\x16\x07" + b"\x00" * 40
    files["proj/._app.py"] = b"\x00\x05\x16\x07" + b"\x00" * 40
    profile = analyze_archive(make_zip(archives / "mac.zip", files), work_root=work)
    assert [a.path for a in profile.apps] == ["."]  # the single top folder is still entered
    assert profile.stats["binary_files"] == 1
