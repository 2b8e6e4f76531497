"""The deployment package: the Lambda zip and the ASK CLI skill package.

Owns: `build_lambda_zip`, which installs only the run-time dependencies for Lambda's platform
(Python 3.12 on arm64, per infrastructure/template.yaml), leaves out what Lambda already provides
(boto3 and its kin) and what the skill never imports at run time (gtts, pydub), adds the skill,
the Lambda entry point and the audio manifest, and refuses a zip over 10 MB; and
`sync_skill_package`, which copies interaction_model/ into skill-package/ (one source of truth).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "lambda" / "requirements.txt"
MAX_ZIP_BYTES = 10 * 1024 * 1024
LAMBDA_PLATFORM = "manylinux2014_aarch64"
LAMBDA_PYTHON = "3.12"
# Provided by the Lambda runtime, or never imported by the skill at run time.
LEFT_OUT = ("boto3", "botocore", "s3transfer", "jmespath", "gtts", "pydub", "click")


class PackageError(RuntimeError):
    """The package could not be built, or is over a limit; the message says which."""


@dataclass(frozen=True)
class PackageReport:
    path: Path
    size: int
    files: int
    left_out: tuple[str, ...]


def _install_dependencies(target: Path, platform: str, python: str) -> None:
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--target", str(target), "--platform", platform,
        "--python-version", python, "--implementation", "cp", "--only-binary=:all:",
        "-r", str(REQUIREMENTS),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise PackageError(f"installing the Lambda's dependencies failed: {last}")


def _prune(target: Path) -> tuple[str, ...]:
    removed = []
    for entry in sorted(target.iterdir()):
        name = entry.name.lower().split("-")[0].replace("_", "-").removesuffix(".dist-info")
        if name in LEFT_OUT or entry.name in ("bin", "__pycache__"):
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
            if entry.name.endswith(".dist-info"):
                removed.append(name)
    return tuple(removed)


def _add_tree(archive: zipfile.ZipFile, folder: Path, prefix: str) -> int:
    count = 0
    for path in sorted(folder.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        info = zipfile.ZipInfo(
            f"{prefix}{path.relative_to(folder).as_posix()}", (2020, 1, 1, 0, 0, 0)
        )
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, path.read_bytes())
        count += 1
    return count


def build_lambda_zip(
    out: Path,
    manifest: Path | None = None,
    platform: str = LAMBDA_PLATFORM,
    python: str = LAMBDA_PYTHON,
) -> PackageReport:
    """Build the zip at `out` (files in a fixed order, fixed timestamps); PackageError if not."""
    with tempfile.TemporaryDirectory() as tmp:
        deps = Path(tmp) / "deps"
        _install_dependencies(deps, platform, python)
        left_out = _prune(deps)
        out.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(out, "w") as archive:
            files = _add_tree(archive, deps, "")
            files += _add_tree(archive, ROOT / "skill", "skill/")
            archive.write(ROOT / "lambda" / "lambda_function.py", "lambda_function.py")
            files += 1
            if manifest is not None and manifest.is_file():
                archive.write(manifest, "audio/manifest.json")
                files += 1
    size = out.stat().st_size
    if size > MAX_ZIP_BYTES:
        raise PackageError(
            f"{out} is {size / 1e6:.1f} MB, over Lambda's 10 MB budget for this skill"
        )
    return PackageReport(out, size, files, left_out)


def sync_skill_package(lambda_arn: str | None = None) -> list[Path]:
    """Copy every interaction model into skill-package/; set the Lambda ARN when given."""
    written = []
    models = ROOT / "skill-package" / "interactionModels" / "custom"
    models.mkdir(parents=True, exist_ok=True)
    for model in sorted((ROOT / "interaction_model").glob("*.json")):
        shutil.copyfile(model, models / model.name)
        written.append(models / model.name)
    if lambda_arn:
        if not lambda_arn.startswith("arn:aws:lambda:"):
            raise PackageError(f"{lambda_arn!r} is not a Lambda function ARN (arn:aws:lambda:...)")
        manifest_path = ROOT / "skill-package" / "skill.json"
        manifest = json.loads(manifest_path.read_text())
        manifest["manifest"]["apis"]["custom"]["endpoint"] = {"uri": lambda_arn}
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n")
        written.append(manifest_path)
    return written
