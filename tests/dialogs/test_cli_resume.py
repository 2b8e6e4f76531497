"""`trust-guide chat` in real processes: quit, start a new process, and resume where we stopped."""

from __future__ import annotations

import subprocess
import sys

import pytest


def chat(tmp_path, script: str, *options: str) -> str:
    path = tmp_path / "script.txt"
    path.write_text(script)
    done = subprocess.run(
        [sys.executable, "-m", "skill.cli", "chat", "--script", str(path), *options],
        capture_output=True,
        text=True,
        env={"TRUST_GUIDE_STORE": f"sqlite:///{tmp_path}/progress.db", "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())  # wrapped lines joined again


def test_quit_and_resume_in_a_new_process(tmp_path):
    first = chat(tmp_path, "open trust guide\nyes\nnext\nnext\nstop\n")
    assert "Step 3: Create a Safe Environment" in first
    assert "I'll remember that you were on step 3" in first
    second = chat(tmp_path, "open trust guide\nyes\n")
    assert "Welcome back. Last time you heard step 3, Create a Safe Environment." in second
    assert "Shall I go on with step 4, Set Clear Boundaries?" in second
    assert "Step 4: Set Clear Boundaries" in second


def test_each_person_on_one_account_keeps_their_own_place(tmp_path):
    chat(tmp_path, "open trust guide\ngo to step six\nexit\n", "--user", "u1", "--person", "p1")
    other = chat(tmp_path, "open trust guide\n", "--user", "u1", "--person", "p2")
    assert "Welcome to Trust Guide" in other, "a second person starts fresh"
    again = chat(tmp_path, "open trust guide\n", "--user", "u1", "--person", "p1")
    assert "Last time you heard step 6" in again


def test_a_script_that_ends_mid_session_still_saves(tmp_path):
    chat(tmp_path, "open trust guide\ngo to step two\n")
    assert "Last time you heard step 2" in chat(tmp_path, "open trust guide\n")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--store", "sqlite://relative.db"), "expected sqlite:///ABSOLUTE/PATH.db"),
        (("--store", "postgres://x"), "expected sqlite:///ABSOLUTE/PATH.db or dynamodb://TABLE"),
        (("--script", "/nonexistent/script.txt"), "No such file or directory"),
    ],
)
def test_operator_errors_are_one_clear_line(tmp_path, options, message):
    done = subprocess.run(
        [sys.executable, "-m", "skill.cli", "chat", *options],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert message in done.stderr and "Traceback" not in done.stderr, done.stderr
