"""skill.pauses: the pause catalog and the audio manifest, read without any audio library."""

from __future__ import annotations

import copy
import json
import logging
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from skill.content import DATA_DIR, ContentError, locales
from skill.pauses import (
    LEAD_IN_MS,
    MAX_CLIP_S,
    MAX_CUE_CHARS,
    TAIL_MS,
    Catalog,
    Clip,
    Cue,
    Manifest,
    estimate_ms,
    load_catalog,
    load_manifest,
)

REQUIRED_KINDS = {"breathing", "grounding", "stretch", "self-compassion"}
MAX_CUE_WORDS = 15  # a cue is said in one breath, by any voice


@pytest.fixture(params=locales())
def catalog(request: pytest.FixtureRequest) -> Catalog:
    return load_catalog(request.param)


def shipped() -> dict[str, Any]:
    return json.loads((DATA_DIR / "en-US" / "pauses.json").read_text(encoding="utf-8"))


@pytest.fixture
def write_catalog(tmp_path: Path) -> Callable[[Any], Path]:
    """write_catalog(data) -> a data dir whose en-US/pauses.json holds `data` (a str as is)."""

    def write(data: Any) -> Path:
        folder = tmp_path / f"data{len(list(tmp_path.iterdir()))}"
        (folder / "en-US").mkdir(parents=True)
        text = data if isinstance(data, str) else json.dumps(data)
        (folder / "en-US" / "pauses.json").write_text(text, encoding="utf-8")
        return folder

    return write


# --- the shipped catalog ----------------------------------------------------------------------


def test_every_kind_comes_in_every_length(catalog: Catalog) -> None:
    assert {k.id for k in catalog.kinds} >= REQUIRED_KINDS
    assert set(catalog.lengths_s) >= {60, 120, 180}
    for kind in catalog.kinds:
        for length in catalog.lengths_s:
            script = catalog.script(kind.id, length)
            assert (script.kind, script.length_s) == (kind.id, length)
            assert script.id == f"{kind.id}-{length}"
    assert len(catalog.scripts) == len(catalog.kinds) * len(catalog.lengths_s)


def test_cues_are_in_order_and_finish_within_the_clip(catalog: Catalog) -> None:
    for script in catalog.scripts:
        times = [cue.at_ms for cue in script.cues]
        assert times == sorted(set(times)), f"{script.id}: cue times must increase"
        assert times[0] >= LEAD_IN_MS, f"{script.id}: first cue inside the opening chime"
        last = script.cues[-1]
        assert last.at_ms + estimate_ms(last.text) <= script.length_s * 1000 - TAIL_MS, script.id
        assert script.length_s <= MAX_CLIP_S  # Alexa: at most 240 s of <audio> a response
        for cue, following in zip(script.cues, script.cues[1:], strict=False):
            assert cue.at_ms + estimate_ms(cue.text) <= following.at_ms, (script.id, cue)


def test_cues_are_short_and_spoken_friendly(catalog: Catalog) -> None:
    for script in catalog.scripts:
        for cue in script.cues:
            assert len(cue.text) <= MAX_CUE_CHARS and len(cue.text.split()) <= MAX_CUE_WORDS
            assert not any(ch in cue.text for ch in "<>&{}"), f"{script.id}: {cue.text!r}"


def test_breathing_counts_are_paced_one_second_apart(catalog: Catalog) -> None:
    cues = catalog.script("breathing", 60).cues
    start = next(i for i, cue in enumerate(cues) if cue.text == "Breathe in")
    counted = cues[start : start + 4]
    assert [c.text for c in counted] == ["Breathe in", "two", "three", "four"]
    assert [c.at_ms - counted[0].at_ms for c in counted] == [0, 1000, 2000, 3000]
    assert cues[start + 4].text == "Hold"


def test_every_kind_has_a_spoken_name_and_synonyms(catalog: Catalog) -> None:
    for kind in catalog.kinds:
        assert kind.name and kind.synonyms
        assert catalog.kind(kind.id) is kind


def test_the_catalog_is_loaded_once() -> None:
    assert load_catalog() is load_catalog()


def test_unknown_script_is_a_key_error(catalog: Catalog) -> None:
    with pytest.raises(KeyError):
        catalog.script("breathing", 61)
    with pytest.raises(KeyError):
        catalog.script("juggling", 60)


# --- lengths and kinds from what the listener said -----------------------------------------------


@pytest.mark.parametrize(
    ("asked", "offered"),
    [
        (0, 60),
        (30, 60),
        (60, 60),
        (89, 60),
        (90, 60),
        (91, 120),
        (150, 120),
        (151, 180),
        (600, 180),
    ],
)
def test_nearest_length_prefers_the_shorter_on_a_tie(asked: float, offered: int) -> None:
    assert load_catalog().nearest_length(asked) == offered


def test_every_name_and_synonym_matches_its_kind(catalog: Catalog) -> None:
    for kind in catalog.kinds:
        for said in (kind.id, kind.name, *kind.synonyms, kind.name.upper()):
            assert catalog.match_kind(said) == kind, said


@pytest.mark.parametrize(
    ("said", "kind"),
    [
        ("give me a breathing exercise", "breathing"),
        ("help me calm down", "breathing"),
        ("5-4-3-2-1", "grounding"),
        ("the five four three two one one", "grounding"),
        ("a quick neck stretch please", "stretch"),
        ("my shoulders are tight", "stretch"),
        ("some self-kindness", "self-compassion"),
        ("something kind for me", "self-compassion"),
    ],
)
def test_match_kind_understands_the_listeners_words(said: str, kind: str) -> None:
    matched = load_catalog().match_kind(said)
    assert matched is not None and matched.id == kind


@pytest.mark.parametrize("said", ["", "   ", "a pause", "take a break", "juggling", "one minute"])
def test_match_kind_is_none_when_nothing_names_a_kind(said: str) -> None:
    assert load_catalog().match_kind(said) is None


def test_match_kind_is_none_when_two_kinds_tie() -> None:
    assert load_catalog().match_kind("breathing and stretching") is None


# --- what the loader refuses --------------------------------------------------------------------


def _script(data: dict[str, Any], kind: int = 0, script: int = 0) -> dict[str, Any]:
    return data["kinds"][kind]["scripts"][script]


BAD: dict[str, Callable[[dict[str, Any]], object]] = {
    "wrong version": lambda d: d.update(version=2),
    "a missing length": lambda d: d["kinds"][0]["scripts"].pop(),
    "a length twice": lambda d: d["kinds"][0]["scripts"].append(_script(d)),
    "an unoffered length": lambda d: _script(d).update(length_s=90),
    "a length over 240 s": lambda d: d.update(lengths_s=[60, 120, 300]),
    "no kinds": lambda d: d.update(kinds=[]),
    "a kind id that is no file name": lambda d: d["kinds"][0].update(id="Breathing Pause"),
    "a synonym of two kinds": lambda d: d["kinds"][1]["synonyms"].append("breathe"),
    "an empty cue": lambda d: _script(d)["cues"][0].update(text=" "),
    "a negative time": lambda d: _script(d)["cues"][0].update(at=-1),
    "a time that is text": lambda d: _script(d)["cues"][0].update(at="1.5"),
    "a cue in the opening chime": lambda d: _script(d)["cues"][0].update(at=0.2),
    "cues out of order": lambda d: _script(d)["cues"][1].update(at=1.6),
    "a cue that runs into the next": lambda d: _script(d)["cues"][0].update(
        text="This sentence is far too long to be said before the next cue starts, truly."
    ),
    "a last cue past the end": lambda d: _script(d)["cues"][-1].update(at=58),
    "a cue past the end of a short clip": lambda d: _script(d, 0, 1)["cues"].append(
        {"at": 119, "text": "Goodbye."}
    ),
    "a nested repeat": lambda d: _script(d)["cues"][3]["cues"].append(
        {"at": 0, "repeat": 2, "every": 1, "cues": [{"at": 0, "text": "x"}]}
    ),
    "a repeat of no times": lambda d: _script(d)["cues"][3].update(repeat=0),
    "a very long cue": lambda d: _script(d)["cues"][-1].update(text="word " * 40),
}


@pytest.mark.parametrize("mutate", BAD.values(), ids=BAD.keys())
def test_bad_catalogs_are_refused(
    mutate: Callable[[dict[str, Any]], object], write_catalog: Callable[[Any], Path]
) -> None:
    data = copy.deepcopy(shipped())
    mutate(data)
    with pytest.raises(ContentError):
        load_catalog("en-US", write_catalog(data))


@pytest.mark.parametrize("text", ["{not json", "[]", '{"version": 1}'])
def test_malformed_files_are_refused(text: str, write_catalog: Callable[[Any], Path]) -> None:
    with pytest.raises(ContentError):
        load_catalog("en-US", write_catalog(text))


def test_a_missing_catalog_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="missing"):
        load_catalog("en-US", tmp_path)


def test_pace_and_repeat_expand_into_timed_cues(write_catalog: Callable[[Any], Path]) -> None:
    block = {"at": 2, "repeat": 2, "every": 5, "cues": [{"at": 0, "text": "In, two", "pace": 1.5}]}
    script = {"length_s": 20, "title": "T", "cues": [{"at": 1, "text": "Hi."}, block]}
    kind = {"id": "k", "name": "k pause", "synonyms": ["kay"], "scripts": [script]}
    data = {"version": 1, "lengths_s": [20], "kinds": [kind]}
    cues = load_catalog("en-US", write_catalog(data)).script("k", 20).cues
    assert cues == (
        Cue(1000, "Hi."),
        Cue(2000, "In"),
        Cue(3500, "two"),
        Cue(7000, "In"),
        Cue(8500, "two"),
    )


# --- the manifest --------------------------------------------------------------------------------

CLIP = {
    "id": "breathing-60",
    "kind": "breathing",
    "length_s": 60,
    "duration_ms": 60048,
    "sha256": "ab" * 32,
    "engine": "espeak",
    "file": "breathing-60.0123456789.mp3",
}


def write_manifest(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "manifest.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_manifest_lists_the_clips(tmp_path: Path) -> None:
    manifest = load_manifest(write_manifest(tmp_path, {"version": 1, "clips": [CLIP]}))
    assert manifest is not None
    clip = manifest.clip("breathing", 60)
    assert clip == Clip(**CLIP)
    assert manifest.clip("breathing", 120) is None
    assert load_manifest(write_manifest(tmp_path, manifest.to_json())) == manifest


def test_manifest_extras_are_optional(tmp_path: Path) -> None:
    with_extras = {**CLIP, "source": "cafe", "lufs": -16.1, "future_field": True}
    data = {"version": 1, "clips": [with_extras, {**CLIP, "id": "breathing-120", "lufs": None}]}
    manifest = load_manifest(write_manifest(tmp_path, data))
    assert manifest is not None
    assert (manifest.clips["breathing-60"].source, manifest.clips["breathing-60"].lufs) == (
        "cafe",
        -16.1,
    )
    assert manifest.clips["breathing-120"].lufs is None


def test_a_missing_manifest_is_none_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="skill.pauses"):
        assert load_manifest(tmp_path / "nowhere" / "manifest.json") is None
    assert "not found" in caplog.text


CORRUPT = {
    "not json": "{",
    "empty": "",
    "a list": "[]",
    "another version": {"version": 99, "clips": [CLIP]},
    "no clips": {"version": 1},
    "clips not a list": {"version": 1, "clips": {"a": 1}},
    "a clip without a file": {
        "version": 1,
        "clips": [{k: v for k, v in CLIP.items() if k != "file"}],
    },
    "a duration as text": {"version": 1, "clips": [{**CLIP, "duration_ms": "60048"}]},
    "a file in another folder": {"version": 1, "clips": [{**CLIP, "file": "../x.mp3"}]},
    "a clip twice": {"version": 1, "clips": [CLIP, CLIP]},
    "a loudness that is no number": {"version": 1, "clips": [{**CLIP, "lufs": "loud"}]},
}


@pytest.mark.parametrize("data", CORRUPT.values(), ids=CORRUPT.keys())
def test_a_corrupt_manifest_is_none_with_a_warning(
    data: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="skill.pauses"):
        assert load_manifest(write_manifest(tmp_path, data)) is None
    assert "unusable" in caplog.text


def test_manifest_load_is_the_same_reader(tmp_path: Path) -> None:
    path = write_manifest(tmp_path, {"version": 1, "clips": [CLIP]})
    assert Manifest.load(path) == load_manifest(path)


def test_reading_pauses_loads_no_audio_library() -> None:
    """The skill's floor: skill.pauses never pulls in pydub, gtts or the audio build."""
    probe = (
        "import sys, skill.pauses as p; p.load_catalog(); p.load_manifest('/nonexistent'); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'pydub','gtts','audio'}))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
