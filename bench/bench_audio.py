"""Audio build benchmark: the full pause library with espeak-ng, from cold and again unchanged.

Run from the repository root: `python bench/bench_audio.py` (`--serial` adds a one-job cold build,
to show what the second core buys). Every run starts from an empty cache and output folder in a
temporary directory, so the figures never depend on earlier builds. Targets (issue 3): a no-op
rebuild within 1 s; a cold build at least 30x real time. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

from audio.build import BuildResult, build  # noqa: E402
from audio.engines import EspeakEngine  # noqa: E402
from skill.pauses import load_catalog  # noqa: E402

NOOP_TARGET_S = 1.0
REAL_TIME_TARGET = 30.0


def cold_build(jobs: int) -> tuple[BuildResult, float, Path]:
    """Build everything into a fresh temporary folder; returns the result, the wall time and the
    folder (kept for the no-op rebuild)."""
    root = Path(tempfile.mkdtemp(prefix="trust-guide-bench-"))
    started = time.perf_counter()
    result = build(
        load_catalog(), EspeakEngine(), root / "out", cache_dir=root / "cache", jobs=jobs
    )
    return result, time.perf_counter() - started, root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serial", action="store_true", help="also time a one-job cold build")
    args = parser.parse_args(argv)
    cores = os.cpu_count() or 1
    catalog = load_catalog()
    audio_s = sum(s.length_s for s in catalog.scripts)
    engine = EspeakEngine()
    print(
        f"Pause library: {len(catalog.scripts)} clips, {audio_s / 60:.1f} min of audio; "
        f"engine espeak ({engine.voice}); {cores} cores"
    )

    cold, cold_s, root = cold_build(cores)
    started = time.perf_counter()
    again = build(catalog, engine, root / "out", cache_dir=root / "cache", jobs=cores)
    noop_s = time.perf_counter() - started
    assert again.did_nothing, "the rebuild did work"
    rows = [
        (f"cold build, {cores} jobs", cold_s, cold.audio_s / cold_s, f">= {REAL_TIME_TARGET:g}x"),
        ("no-op rebuild", noop_s, None, f"<= {NOOP_TARGET_S:g} s"),
    ]
    shutil.rmtree(root)
    if args.serial:
        serial, serial_s, serial_root = cold_build(1)
        shutil.rmtree(serial_root)
        rows.append(("cold build, 1 job", serial_s, serial.audio_s / serial_s, ""))

    print(f"\n{'run':<24}{'seconds':>10}{'x real time':>14}   target")
    for name, seconds, speed, target in rows:
        ratio = f"{speed:.0f}x" if speed else "-"
        print(f"{name:<24}{seconds:>10.2f}{ratio:>14}   {target}")
    if args.serial:
        print(f"\nsecond core: {rows[2][1] / cold_s:.2f}x faster than one job")
    print(
        f"cues spoken from cold: {cold.synthesised}; "
        f"clips the rebuild checked (sha256) and kept: {len(again.manifest.clips)}"
    )

    missed = []
    if cold.audio_s / cold_s < REAL_TIME_TARGET:
        missed.append(f"cold build {cold.audio_s / cold_s:.0f}x < {REAL_TIME_TARGET:g}x")
    if noop_s > NOOP_TARGET_S:
        missed.append(f"no-op rebuild {noop_s:.2f} s > {NOOP_TARGET_S:g} s")
    print("\ntargets: " + ("met" if not missed else "MISSED: " + "; ".join(missed)))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
