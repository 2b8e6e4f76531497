"""`trust-guide chat --play`: a pause plays where a player exists, else the terminal says what
would play and for how long; without built audio, the pause is spoken."""

from __future__ import annotations

import json
import subprocess
import sys

from skill.pauses import Clip, Manifest, load_catalog


def built_audio(folder) -> str:
    """A manifest for every clip, with small stand-in files (the player here never decodes them)."""
    clips = {}
    for script in load_catalog().scripts:
        name = f"{script.id}.0000000000.mp3"
        (folder / name).write_bytes(b"\xff\xf3" + bytes(142))
        clips[script.id] = Clip(
            script.id,
            script.kind,
            script.length_s,
            script.length_s * 1000,
            "0" * 64,
            "espeak",
            name,
        )
    path = folder / "manifest.json"
    path.write_text(json.dumps(Manifest(clips).to_json()))
    return str(path)


def chat(tmp_path, *options: str, manifest: str | None = None) -> str:
    env = {"TRUST_GUIDE_STORE": f"sqlite:///{tmp_path}/p.db", "PATH": "/usr/bin:/bin"}
    if manifest:
        env["TRUST_GUIDE_AUDIO_MANIFEST"] = manifest
    done = subprocess.run(
        [sys.executable, "-m", "skill.cli", "chat", "--script", "-", *options],
        input="open trust guide\ntake a two minute stretch\nstop\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_play_runs_the_player_between_the_intro_and_the_return(tmp_path):
    out = chat(tmp_path, "--play", "--player", "true", manifest=built_audio(tmp_path))
    lines = out.splitlines()
    playing = next(i for i, line in enumerate(lines) if "[playing stretch-120." in line)
    assert "120 s" in lines[playing]
    assert "two-minute neck and shoulder stretch" in lines[playing - 1]
    assert "Welcome back" in lines[playing + 1], "the return comes after the clip"


def test_play_without_a_player_says_what_would_play_and_how_long(tmp_path):
    out = chat(tmp_path, "--play", "--player", "no-such-player", manifest=built_audio(tmp_path))
    assert (
        "[pause audio] stretch-120.0000000000.mp3, 120 s: would play now (no player found)" in out
    )


def test_play_without_built_audio_speaks_the_pause(tmp_path):
    out = chat(tmp_path, "--play", manifest=str(tmp_path / "missing" / "manifest.json"))
    assert "No pause audio at" in out and "trust-guide audio build" in out
    assert "shoulders" in out.lower(), "the stretch's own cues are spoken instead"
    assert "[playing" not in out
