"""The floors stay honest: the guide core loads no SDK or web code, and nothing in skill/ imports
the audio build (gtts, pydub, audio/). Checked in a fresh interpreter and by reading the source."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKILL = ROOT / "skill"
CORE = [
    "skill.commands",
    "skill.content",
    "skill.progress",
    "skill.guide",
    "skill.config",
    "skill.pauses",
    "skill.speech",
]
HEAVY = ("ask_sdk", "flask", "boto3", "botocore", "pydub", "gtts")
NEVER_IN_SKILL = {"audio", "gtts", "pydub"}
CORE_MAY_IMPORT = {
    "skill",
    "skill.commands",
    "skill.content",
    "skill.progress",
    "skill.guide",
    "skill.config",
    "skill.pauses",
}


def modules_loaded_by(*modules: str) -> set[str]:
    """Import `modules` in a fresh interpreter and return every module it then holds."""
    code = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, f"importing {modules} failed:\n{result.stderr}"
    return set(json.loads(result.stdout))


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0].startswith(HEAVY))


def test_guide_core_and_speech_load_no_sdk_web_cloud_or_audio_module() -> None:
    loaded = modules_loaded_by(*CORE)
    assert set(CORE) <= loaded
    assert not heavy(loaded), f"the core floors loaded {heavy(loaded)}"


def test_the_check_above_can_see_an_sdk_import() -> None:
    """Control: the Alexa glue floor does load ask_sdk, so an empty list above means something."""
    loaded = modules_loaded_by("skill.handlers")
    assert any(m.startswith("ask_sdk_core") for m in heavy(loaded))


def imported_roots(path: Path) -> set[str]:
    """Every module a source file imports, anywhere in it (inside functions too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


SKILL_SOURCES = sorted(SKILL.rglob("*.py"))


@pytest.mark.parametrize("path", SKILL_SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_in_skill_imports_the_audio_build(path: Path) -> None:
    roots = {name.split(".")[0] for name in imported_roots(path)}
    assert not roots & NEVER_IN_SKILL, f"{path.name} imports {sorted(roots & NEVER_IN_SKILL)}"


@pytest.mark.parametrize("module", CORE)
def test_core_modules_import_only_the_standard_library_and_lower_floors(module: str) -> None:
    path = ROOT / (module.replace(".", "/") + ".py")
    allowed = CORE_MAY_IMPORT | {"skill.speech"} if module == "skill.speech" else CORE_MAY_IMPORT
    outside = set()
    for name in imported_roots(path):
        root = name.split(".")[0]
        if root in sys.stdlib_module_names or root == "__future__":
            continue
        parent = name.rsplit(".", 1)[0]
        if name in allowed or (parent in allowed and parent != "skill"):
            continue  # a lower floor, or a name imported from one
        outside.add(name)
    assert not outside, f"{module} reaches outside its floor: {sorted(outside)}"


def test_import_check_finds_imports_inside_functions(tmp_path: Path) -> None:
    """Control for the source checks: a lazy import is still an import."""
    source = tmp_path / "lazy.py"
    source.write_text("def build():\n    from pydub import AudioSegment\n    import gtts.tts\n")
    assert {"pydub", "gtts.tts"} <= imported_roots(source)
