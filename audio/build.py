"""The whole pause library: every script in the catalog to an MP3, plus the manifest for the skill.

Owns: deciding what needs doing (content hashes), the cue cache, choosing the engine for a run,
running the work on every core, and writing the manifest and clips atomically. A cue is spoken
once per (engine, voice, text); a clip is made again only when its source changed (its cues and
times, the engine and voice, or the assembly itself); an unchanged build does nothing and says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydub.exceptions import CouldntDecodeError

from audio.assemble import ASSEMBLY_VERSION, TARGET_LUFS, BuildError, prepare_cue, render
from audio.engines import AutoEngine, Engine, EngineUnavailable, candidates
from skill.pauses import DEFAULT_OUT, MANIFEST_NAME, Catalog, Clip, Manifest, PauseScript

log = logging.getLogger(__name__)

DEFAULT_CACHE = DEFAULT_OUT.parent / "cache"
Progress = Callable[[int, int], None]  # (done, total)
Note = Callable[[str], None]
T = TypeVar("T")


@dataclass(frozen=True)
class BuildResult:
    manifest: Manifest
    engine: str  # the engine that spoke (under "auto": the one that worked)
    rendered: tuple[str, ...]  # clip ids made this run
    synthesised: int  # cues the engine spoke this run (the rest came from the cache)
    audio_s: float  # seconds of audio made this run
    seconds: float  # wall time
    notes: tuple[str, ...]

    @property
    def did_nothing(self) -> bool:
        return not self.rendered and not self.synthesised


class CueCache:
    """Engine output by content: one file per (engine, voice, text), written atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, engine: Engine, text: str) -> Path:
        digest = hashlib.sha256(f"{engine.voice}\0{text}".encode()).hexdigest()[:32]
        return self.folder / engine.name / f"{digest}.{engine.suffix}"

    def put(self, engine: Engine, text: str, data: bytes) -> None:
        path = self.path(engine, text)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        partial.write_bytes(data)
        partial.replace(path)


def source_key(script: PauseScript, engine: Engine) -> str:
    """Everything a clip's sound depends on, hashed: same key, same clip."""
    cues = [[cue.at_ms, cue.text] for cue in script.cues]
    recipe = [ASSEMBLY_VERSION, TARGET_LUFS, engine.name, engine.voice, script.length_s, cues]
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _current(old: Manifest | None, script: PauseScript, key: str, out_dir: Path) -> Clip | None:
    """The clip already built from this source, if its file is still there, unchanged."""
    clip = old.clips.get(script.id) if old else None
    if clip is None or clip.source != key:
        return None
    path = out_dir / clip.file
    return clip if path.is_file() and file_sha256(path) == clip.sha256 else None


def _run_all(jobs: int, work: Callable[[T], object], items: Iterable[T]) -> None:
    """Run `work` on each item on `jobs` threads; the first exception cancels the rest and is
    raised. Threads suffice: the heavy lifting happens in ffmpeg and espeak-ng processes."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(work, item) for item in items]
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if (error := future.exception()) is not None:
                pool.shutdown(cancel_futures=True)
                raise error


class _Tally:
    """Counts finished work for the progress callback, from any thread."""

    def __init__(self, total: int, on_progress: Progress | None) -> None:
        self.total, self.done, self.on_progress = total, 0, on_progress
        self.lock = threading.Lock()

    def __call__(self) -> None:
        with self.lock:
            self.done += 1
            if self.on_progress:
                self.on_progress(self.done, self.total)


@dataclass(frozen=True)
class _Plan:
    """What a run with one engine must do: the clips to make and the cues it has not spoken."""

    engine: Engine
    keys: dict[str, str]  # script id -> source key
    current: dict[str, Clip]  # clips already built from their present source
    stale: list[PauseScript]
    texts: list[str]  # every cue text the stale clips need
    missing: list[str]  # ... that the cache does not hold yet


def _plan(
    catalog: Catalog, engine: Engine, old: Manifest | None, out_dir: Path, cache: CueCache
) -> _Plan:
    keys = {s.id: source_key(s, engine) for s in catalog.scripts}
    current = {s.id: c for s in catalog.scripts if (c := _current(old, s, keys[s.id], out_dir))}
    stale = [s for s in catalog.scripts if s.id not in current]
    texts = sorted({cue.text for s in stale for cue in s.cues})
    missing = [t for t in texts if not cache.path(engine, t).is_file()]
    return _Plan(engine, keys, current, stale, texts, missing)


def _speak(plan: _Plan, cache: CueCache, jobs: int, tally: _Tally) -> None:
    """Synthesise the missing cues into the cache. One cue first, alone: an engine that cannot be
    reached fails once, quickly, instead of once per thread."""

    def speak(text: str) -> None:
        cache.put(plan.engine, text, plan.engine.synthesize(text))
        tally()

    if plan.missing:
        speak(plan.missing[0])
        _run_all(jobs, speak, plan.missing[1:])


def _save(manifest: Manifest, old: Manifest | None, out_dir: Path) -> bool:
    """Write the manifest if it changed (atomically: the skill may be reading it), then remove
    the clips only the old one listed. True when it was written."""
    changed = old is None or manifest.to_json() != old.to_json()
    if changed:
        partial = out_dir / f"{MANIFEST_NAME}.part"
        partial.write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
        partial.replace(out_dir / MANIFEST_NAME)
    kept = {clip.file for clip in manifest.clips.values()}
    for clip in old.clips.values() if old else ():
        if clip.file not in kept:
            (out_dir / clip.file).unlink(missing_ok=True)
    return changed


def build(
    catalog: Catalog,
    engine: Engine | AutoEngine,
    out_dir: Path = DEFAULT_OUT,
    *,
    cache_dir: Path = DEFAULT_CACHE,
    jobs: int | None = None,
    on_progress: Progress | None = None,
    on_note: Note | None = None,
) -> BuildResult:
    """Bring `out_dir` up to date with the catalog: clips, then the manifest, then old files go.

    Raises EngineUnavailable when no engine can speak (under "auto": when the last one cannot),
    and assemble.BuildError when a clip cannot be made.
    """
    started = time.perf_counter()
    jobs = max(1, jobs or os.cpu_count() or 1)
    notes: list[str] = []

    def note(message: str) -> None:
        notes.append(message)
        (on_note or log.info)(message)

    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST_NAME
    old = Manifest.load(manifest_path) if manifest_path.exists() else None
    cache = CueCache(cache_dir)
    options = candidates(engine)
    for option in options:  # "auto" and a library already built by one of its engines: no network
        if not _plan(catalog, option, old, out_dir, cache).stale:
            options = (option,)
            break
    for index, option in enumerate(options):
        plan = _plan(catalog, option, old, out_dir, cache)
        tally = _Tally(len(plan.missing) + len(plan.stale), on_progress)
        try:
            _speak(plan, cache, jobs, tally)
            break
        except EngineUnavailable as exc:
            if index == len(options) - 1:
                raise
            note(f"{exc}; using {options[index + 1].name} instead.")

    chosen, voices = plan.engine, {}

    def prepare(text: str) -> None:
        path = cache.path(chosen, text)
        try:
            voices[text] = prepare_cue(path.read_bytes(), chosen.suffix)
        except (CouldntDecodeError, BuildError) as exc:
            raise BuildError(
                f"cue {text!r}: unusable {chosen.name} audio in {path} ({exc})"
            ) from exc

    def make(script: PauseScript) -> None:
        file = f"{script.id}.{plan.keys[script.id][:10]}.mp3"
        made = render(script, voices, out_dir / file)
        late.extend(made.notes)  # said after the pool: the CLI's bar is not thread-safe
        clips[script.id] = Clip(
            id=script.id,
            kind=script.kind,
            length_s=script.length_s,
            duration_ms=made.duration_ms,
            sha256=file_sha256(out_dir / file),
            engine=chosen.name,
            file=file,
            source=plan.keys[script.id],
            lufs=made.loudness.lufs,
        )
        tally()

    clips, late = dict(plan.current), []
    _run_all(jobs, prepare, plan.texts)
    _run_all(jobs, make, sorted(plan.stale, key=lambda s: -s.length_s))  # longest first
    for message in sorted(late):
        note(message)
    manifest = Manifest(dict(sorted(clips.items())))
    rewrite = _save(manifest, old, out_dir)
    seconds = time.perf_counter() - started
    audio_s = float(sum(s.length_s for s in plan.stale))
    if not plan.stale:
        done = "manifest rewritten" if rewrite else "nothing to do"
        note(f"All {len(clips)} clips are up to date ({chosen.name}): {done}.")
    else:
        note(
            f"Made {len(plan.stale)} of {len(clips)} clips ({audio_s / 60:.1f} min of audio) "
            f"with {chosen.name} in {seconds:.1f} s; {len(plan.missing)} cues spoken, "
            f"{len(plan.texts) - len(plan.missing)} from the cache."
        )
    stale_ids = tuple(s.id for s in plan.stale)
    return BuildResult(
        manifest, chosen.name, stale_ids, len(plan.missing), audio_s, seconds, tuple(notes)
    )
