"""Guided self-care pauses: the catalog of scripts, and the audio build's manifest.

Owns: reading `skill/data/<locale>/pauses.json` once and validating it (every kind in every offered
length, cue times that fit), matching what a listener said to a kind, and reading the manifest the
audio build writes (`audio/`). Standard library only: the skill knows audio only through the
manifest and never imports gtts, pydub or `audio/`.

Catalog times are seconds in the JSON and milliseconds here (`Cue.at_ms`). A cue may carry `pace`
(its comma-separated parts spoken that many seconds apart: a count) and cues may sit in a `repeat`
block; both are expanded at load, so every `Cue` is one short thing to say at one time.
"""

import json
import logging
import re
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from skill.config import DEFAULT_AUDIO_OUT
from skill.content import (
    DATA_DIR,
    DEFAULT_LOCALE,
    Content,
    ContentError,
    normalise,
    read_json,
    require_text,
    require_texts,
)

log = logging.getLogger(__name__)

DEFAULT_OUT = DEFAULT_AUDIO_OUT
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
MAX_CLIP_S = 240  # Alexa: all <audio> in one response together at most 240 s
LEAD_IN_MS = 1000  # the clip opens with a chime: no cue before this
TAIL_MS = 2500  # ... and closes with one: every cue is finished this long before the end
MAX_CUE_CHARS = 120  # cues are short and spoken-friendly (also Alexa's voice speaks them)
_ID = re.compile(r"^[a-z][a-z0-9-]*$")  # kind ids become file names


def estimate_ms(text: str) -> int:
    """How long a calm voice (about 140 words a minute) takes to say `text`, pauses included.

    A generous estimate: the catalog is checked against it, so that a cue never runs into the next
    one, and the speech module can size the `<break>` after a cue when Alexa's own voice speaks it.
    """
    words = len(text.split())
    pauses = len(re.findall(r"[,;:.!?](?=\s)", text))
    return 100 + 430 * words + 250 * pauses


class Cue(NamedTuple):
    at_ms: int  # from the start of the clip
    text: str


class PauseScript(NamedTuple):
    id: str  # "<kind>-<length_s>", also the clip id in the manifest
    kind: str
    length_s: int
    title: str
    cues: tuple[Cue, ...]


class PauseKind(NamedTuple):
    id: str
    name: str  # spoken: "a one-minute breathing pause"
    synonyms: tuple[str, ...]


class Catalog(NamedTuple):
    kinds: tuple[PauseKind, ...]
    scripts: tuple[PauseScript, ...]
    lengths_s: tuple[int, ...]  # ascending
    filler: frozenset[str] = frozenset()  # words that never tell kinds apart ("a", "pause")

    def kind(self, kind_id: str) -> PauseKind:
        """The kind with this id; KeyError if there is none."""
        for kind in self.kinds:
            if kind.id == kind_id:
                return kind
        raise KeyError(f"no pause kind {kind_id!r}")

    def script(self, kind: str, length_s: int) -> PauseScript:
        """The script for this kind and offered length; KeyError otherwise (see nearest_length)."""
        for script in self.scripts:
            if script.kind == kind and script.length_s == length_s:
                return script
        raise KeyError(f"no {kind!r} pause of {length_s} s")

    def nearest_length(self, seconds: float) -> int:
        """The offered length nearest to what was asked for; halfway between two, the shorter."""
        return min(self.lengths_s, key=lambda length: (abs(length - seconds), length))

    def match_kind(self, raw: str) -> PauseKind | None:
        """The kind a listener named in their own words, or None when unsure.

        Alexa sends the raw words when entity resolution found nothing. An exact id, name or
        synonym wins; then the longest synonym said inside the words; then the one kind whose
        vocabulary shares the most words with them. A tie is None: better to ask than to guess.
        """
        said = normalise(raw)
        if not said:
            return None
        names = {k.id: {normalise(n) for n in (k.id, k.name, *k.synonyms)} for k in self.kinds}
        for kind in self.kinds:
            if said in names[kind.id]:
                return kind
        padded = f" {said} "
        inside = {
            k.id: max((len(n.split()) for n in names[k.id] if f" {n} " in padded), default=0)
            for k in self.kinds
        }
        if chosen := _unique_best(inside):
            return self.kind(chosen)
        words = set(said.split()) - self.filler
        overlap = {
            k.id: len(words & (set(" ".join(names[k.id]).split()) - self.filler))
            for k in self.kinds
        }
        chosen = _unique_best(overlap)
        return self.kind(chosen) if chosen else None


def _unique_best(scores: dict[str, int]) -> str | None:
    best = max(scores.values(), default=0)
    winners = [key for key, score in scores.items() if score == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


# --- loading and validating the catalog ------------------------------------------------------


def _seconds(value: Any, where: str) -> int:
    """Seconds (int or float) to whole milliseconds."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ContentError(f"{where}: expected seconds (a number, 0 or more); got {value!r}")
    return round(value * 1000)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise ContentError(f"{where}: expected a non-empty list")
    return value


def _expand(entries: Any, where: str, offset_ms: int = 0, nested: bool = False) -> list[Cue]:
    """JSON cue entries to timed cues, with `pace` parts and `repeat` blocks spelled out."""
    cues: list[Cue] = []
    for i, entry in enumerate(_list(entries, where)):
        at = f"{where}[{i}]"
        if not isinstance(entry, dict):
            raise ContentError(f"{at}: expected an object")
        start = offset_ms + _seconds(entry.get("at"), f"{at}.at")
        if "repeat" in entry:
            times, every = entry.get("repeat"), _seconds(entry.get("every"), f"{at}.every")
            if nested or not isinstance(times, int) or isinstance(times, bool) or times < 1:
                raise ContentError(f"{at}: 'repeat' is a whole number of times, and not nested")
            for n in range(times):
                cues += _expand(entry.get("cues"), f"{at}.cues", start + n * every, nested=True)
            continue
        text = require_text(entry.get("text"), f"{at}.text")
        if "pace" in entry:
            step = _seconds(entry.get("pace"), f"{at}.pace")
            parts = [p.strip() for p in text.split(",") if p.strip()]
            cues += [Cue(start + n * step, part) for n, part in enumerate(parts)]
        else:
            cues.append(Cue(start, text))
    return cues


def _check_timing(cues: list[Cue], length_s: int, where: str) -> None:
    """Cues in order, after the opening chime, each said before the next begins, the last one
    finished before the closing chime."""
    end_ms = length_s * 1000 - TAIL_MS
    if cues[0].at_ms < LEAD_IN_MS:
        raise ContentError(f"{where}: the first cue starts before {LEAD_IN_MS / 1000:g} s")
    for cue, following in zip(cues, [*cues[1:], None], strict=True):
        if len(cue.text) > MAX_CUE_CHARS:
            raise ContentError(f"{where}: cue {cue.text!r} is over {MAX_CUE_CHARS} characters")
        limit = following.at_ms if following else end_ms
        if following and following.at_ms <= cue.at_ms:
            raise ContentError(
                f"{where}: cue at {following.at_ms / 1000:g} s is not after {cue.at_ms / 1000:g} s"
            )
        if cue.at_ms + estimate_ms(cue.text) > limit:
            what = "the next cue" if following else "the closing chime"
            raise ContentError(
                f"{where}: cue at {cue.at_ms / 1000:g} s ({cue.text!r}) needs about "
                f"{estimate_ms(cue.text) / 1000:.1f} s but {what} comes at {limit / 1000:g} s"
            )


def _parse_kind(raw: Any, lengths: tuple[int, ...], where: str) -> tuple[PauseKind, list[Any]]:
    if not isinstance(raw, dict):
        raise ContentError(f"{where}: expected an object")
    kind_id = require_text(raw.get("id"), f"{where}.id")
    if not _ID.match(kind_id):
        raise ContentError(f"{where}.id: {kind_id!r} is not lower-case letters, digits and -")
    synonyms = require_texts(raw.get("synonyms"), f"{where}.synonyms")
    kind = PauseKind(kind_id, require_text(raw.get("name"), f"{where}.name"), synonyms)
    scripts = []
    for i, item in enumerate(_list(raw.get("scripts"), f"{where}.scripts")):
        at = f"{where}.scripts[{i}]"
        if not isinstance(item, dict) or item.get("length_s") not in lengths:
            raise ContentError(f"{at}: length_s must be one of the offered lengths {lengths}")
        length = item["length_s"]
        cues = _expand(item.get("cues"), f"{at}.cues")
        _check_timing(cues, length, f"{at} ({kind_id}, {length} s)")
        title = require_text(item.get("title"), f"{at}.title")
        scripts.append(PauseScript(f"{kind_id}-{length}", kind_id, length, title, tuple(cues)))
    if sorted(s.length_s for s in scripts) != list(lengths):
        found = sorted(s.length_s for s in scripts)
        raise ContentError(f"{where}: needs one script per length {lengths}; has {found}")
    return kind, scripts


def _check_names(kinds: list[PauseKind], where: str) -> None:
    """An id, name or synonym names one kind, or "a stretch" would be a coin toss."""
    owner: dict[str, str] = {}
    for kind in kinds:
        for name in {kind.id, kind.name, *kind.synonyms}:
            key = normalise(name)
            if owner.setdefault(key, kind.id) != kind.id:
                raise ContentError(f"{where}: {name!r} names both {owner[key]!r} and {kind.id!r}")


def catalog_for(content: Content) -> "Catalog":
    """The pause catalog of a guide's locale (loaded and validated once, on first use: most
    requests never need it, and a Lambda cold start should not pay for it)."""
    return load_catalog(content.locale, content.data_dir)


@cache
def load_catalog(locale: str = DEFAULT_LOCALE, data_dir: Path = DATA_DIR) -> Catalog:
    """Load and validate one locale's pause catalog; cached, so it is read once per process."""
    path = data_dir / locale / "pauses.json"
    data = read_json(path)  # as content.load reads: missing, not JSON, not an object: ContentError
    if data.get("version") != 1:
        raise ContentError(f"{path}: expected version 1")
    lengths = tuple(sorted(_list(data.get("lengths_s"), f"{path}.lengths_s")))
    if len(set(lengths)) != len(lengths) or any(
        type(n) is not int or not 0 < n <= MAX_CLIP_S for n in lengths
    ):
        raise ContentError(f"{path}.lengths_s: distinct whole seconds, 1 to {MAX_CLIP_S}")
    kinds, scripts = [], []
    for i, raw in enumerate(_list(data.get("kinds"), f"{path}.kinds")):
        kind, kind_scripts = _parse_kind(raw, lengths, f"{path}.kinds[{i}]")
        kinds.append(kind)
        scripts += kind_scripts
    _check_names(kinds, str(path))
    filler = data.get("filler_words", [])
    if not isinstance(filler, list) or not all(isinstance(w, str) for w in filler):
        raise ContentError(f"{path}.filler_words: expected a list of words")
    return Catalog(
        kinds=tuple(kinds),
        scripts=tuple(scripts),
        lengths_s=lengths,
        filler=frozenset(normalise(" ".join(filler)).split()),
    )


# --- the audio build's manifest --------------------------------------------------------------


class Clip(NamedTuple):
    id: str  # the script id, "<kind>-<length_s>"
    kind: str
    length_s: int
    duration_ms: int  # as ffmpeg measures the MP3 (to 10 ms)
    sha256: str  # of the MP3 file
    engine: str  # the voice engine that spoke the cues ("gtts", "espeak")
    file: str  # name of the MP3, beside the manifest (and under the hosting base URL)
    source: str = ""  # the build's content key: same source, same clip (audio/ uses it)
    lufs: float | None = None  # integrated loudness as measured in the MP3


class Manifest(NamedTuple):
    clips: dict[str, Clip]

    def clip(self, kind: str, length_s: int) -> Clip | None:
        return self.clips.get(f"{kind}-{length_s}")

    def to_json(self) -> dict[str, Any]:
        """What the audio build writes: the same shape `load_manifest` reads."""
        ordered = sorted(self.clips.values(), key=lambda c: c.id)
        return {"version": MANIFEST_VERSION, "clips": [c._asdict() for c in ordered]}

    @classmethod
    def load(cls, path: Path | str) -> "Manifest | None":
        return load_manifest(path)


_CLIP_TYPES = {"id": str, "kind": str, "length_s": int, "duration_ms": int, "sha256": str}
_CLIP_TYPES |= {"engine": str, "file": str}


def load_manifest(path: Path | str = DEFAULT_OUT / MANIFEST_NAME) -> Manifest | None:
    """Read the build's manifest; None, with a warning logged, when it is missing or malformed.

    A pause without its clip is still a pause (Alexa's voice speaks the script), so nothing about
    this file may stop the skill from starting.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != MANIFEST_VERSION:
            raise ValueError(f"expected an object with version {MANIFEST_VERSION}")
        clips: dict[str, Clip] = {}
        if not isinstance(data.get("clips"), list):
            raise ValueError("expected a list of clips")
        for item in data["clips"]:
            for name, kind in _CLIP_TYPES.items():
                if type(item[name]) is not kind:
                    raise ValueError(f"clip field {name!r} is not {kind.__name__}")
            lufs = None if item.get("lufs") is None else float(item["lufs"])
            clip = Clip(
                **{k: item[k] for k in _CLIP_TYPES}, source=str(item.get("source", "")), lufs=lufs
            )
            if clip.id in clips or "/" in clip.file or not clip.file.endswith(".mp3"):
                raise ValueError(f"clip {clip.id!r}: duplicate id or odd file name")
            clips[clip.id] = clip
    except FileNotFoundError:
        log.warning("audio manifest %s not found: pauses use Alexa's voice", path)
        return None
    except (OSError, ValueError, LookupError, TypeError) as exc:
        log.warning("audio manifest %s unusable (%s): pauses use Alexa's voice", path, exc)
        return None
    return Manifest(clips)
