"""Pause audio in the terminal (`trust-guide chat --play`): find a player, play a clip, or say
what would play and for how long.

Owns: the stand-in base URL the terminal gives the skill for its hosted audio, mapping those URLs
back to the built files, and running a local player. Standard library only.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

LOCAL_AUDIO_BASE = "https://trust-guide.local/audio"  # what chat --play tells the skill
# Players tried in order; each plays an MP3 and exits when it ends.
PLAYERS = (
    ("ffplay", "-nodisp", "-autoexit", "-loglevel", "error"),
    ("mpg123", "-q"),
    ("mpv", "--no-video", "--really-quiet"),
)


def find_player(preferred: str | None = None) -> list[str] | None:
    """The player command: the one asked for (if it runs here), else the first found on PATH."""
    if preferred:
        command = shlex.split(preferred)
        return command if command and shutil.which(command[0]) else None
    for command in PLAYERS:
        if shutil.which(command[0]):
            return list(command)
    return None


def local_file(src: str, out_dir: Path) -> Path | None:
    """The built file behind an <audio src> that points at the terminal's stand-in host."""
    parts = urlsplit(src)
    base = urlsplit(LOCAL_AUDIO_BASE)
    if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
        return None
    path = out_dir / Path(parts.path).name
    return path if path.is_file() else None


def play(player: list[str], path: Path, timeout_s: float) -> bool:
    """Play one clip to its end; False when the player fails (no sound device, say)."""
    try:
        done = subprocess.run([*player, str(path)], capture_output=True, timeout=timeout_s)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0
