"""skill.content: the eight steps and the phrases, loaded from data files and validated once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from skill import content as content_module
from skill.content import Content, ContentError, load, locales, normalise

SEED = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "seed"
    / "how-to-help-your-partner-with-trust-issues.txt"
)
MAX_WORDS_PER_SPOKEN_SENTENCE = 30  # written for the ear: short sentences


@pytest.fixture(params=locales())
def every_locale(request: pytest.FixtureRequest) -> Content:
    return load(request.param)


# --- the shipped content ----------------------------------------------------------------------


def test_en_us_is_on_disk() -> None:
    assert "en-US" in locales(), f"locales found: {locales()}"


def test_guide_has_eight_steps_numbered_in_order(every_locale: Content) -> None:
    assert every_locale.total == 8
    assert [s.number for s in every_locale.steps] == list(range(1, 9))


def test_step_ids_are_unique_and_step_lookup_agrees(every_locale: Content) -> None:
    ids = [s.id for s in every_locale.steps]
    assert len(set(ids)) == len(ids), f"duplicate step ids: {ids}"
    for step in every_locale.steps:
        assert every_locale.step(step.number) is step
        assert every_locale.step_by_id(step.id) is step
    assert every_locale.step_by_id("no-such-step") is None


def test_every_step_is_written_for_the_ear(every_locale: Content) -> None:
    for step in every_locale.steps:
        assert step.spoken, f"step {step.number} has nothing to say"
        for sentence in step.spoken:
            words = len(sentence.split())
            assert words <= MAX_WORDS_PER_SPOKEN_SENTENCE, (
                f"step {step.number}: {words} words is hard to follow by ear: {sentence!r}"
            )


def test_load_is_cached_so_content_is_read_once() -> None:
    assert load("en-US") is load("en-US")


@pytest.mark.skipif(not SEED.is_file(), reason=f"seed text not found at {SEED}")
def test_titles_and_cards_are_the_seeds_own_words() -> None:
    lines = SEED.read_text(encoding="utf-8").splitlines()
    guide = load("en-US")
    assert guide.title == lines[0].strip()
    for step in guide.steps:
        heading = f"{step.number}. {step.title}"
        assert heading in lines, f"step {step.number}: heading {heading!r} is not in the seed"
        paragraph = lines[lines.index(heading) + 1].strip()
        assert step.card == paragraph, f"step {step.number}: the card is not the seed's paragraph"


# --- naming a step in the listener's words ------------------------------------------------------


@pytest.mark.parametrize(
    ("said", "number"),
    [
        ("the one about boundaries", 4),
        ("empathy", 6),
        ("Boundaries!", 4),
        ("self-care", 8),
        ("practice self care", 8),
        ("the step about professional help", 7),
        ("being patient", 2),
        ("understanding the causes", 1),
        ("keeping promises", 5),
        ("a safe space", 3),
    ],
)
def test_match_topic_finds_the_step_named_in_own_words(
    content: Content, said: str, number: int
) -> None:
    step = content.match_topic(said)
    assert step is not None, f"{said!r} matched no step"
    assert step.number == number, f"{said!r} matched step {step.number}, not {number}"


def test_match_topic_finds_every_step_by_its_id_title_and_each_topic(
    every_locale: Content,
) -> None:
    for step in every_locale.steps:
        for name in (step.id, step.title, *step.topics):
            found = every_locale.match_topic(name)
            assert found is step, f"{name!r} matched {found and found.number}, not {step.number}"


@pytest.mark.parametrize("said", ["", "   ", "the one about", "quantum physics", "?"])
def test_match_topic_names_no_step_for_filler_or_unknown_words(content: Content, said: str) -> None:
    found = content.match_topic(said)
    assert found is None, f"{said!r} matched step {found and found.number}"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Self-Care", "self care"),
        ("  The   one\tabout  EMPATHY. ", "the one about empathy"),
        ("what's", "whats"),
        ("boundaries, privacy & limits", "boundaries privacy limits"),
    ],
)
def test_normalise_folds_case_hyphens_punctuation_and_spaces(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


# --- broken data files fail at load time, saying where --------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the shipped en-US content that a test may break."""
    shutil.copytree(content_module.DATA_DIR / "en-US", tmp_path / "en-US")
    return tmp_path


def _edit(path: Path, change) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_a_copy_of_the_shipped_content_loads(data_dir: Path) -> None:
    """The control for the tests below: the unbroken copy is valid."""
    assert load("en-US", data_dir).total == 8


def test_missing_steps_file_is_a_content_error(data_dir: Path) -> None:
    (data_dir / "en-US" / "steps.json").unlink()
    with pytest.raises(ContentError, match="steps.json: missing"):
        load("en-US", data_dir)


def test_steps_file_that_is_not_json_is_a_content_error(data_dir: Path) -> None:
    (data_dir / "en-US" / "steps.json").write_text("{ not json", encoding="utf-8")
    with pytest.raises(ContentError, match="not valid JSON"):
        load("en-US", data_dir)


def test_phrases_file_that_is_a_list_is_a_content_error(data_dir: Path) -> None:
    (data_dir / "en-US" / "phrases.json").write_text("[]", encoding="utf-8")
    with pytest.raises(ContentError, match="expected a JSON object"):
        load("en-US", data_dir)


def test_steps_out_of_order_are_a_content_error(data_dir: Path) -> None:
    def swap(data):
        data["steps"][0], data["steps"][1] = data["steps"][1], data["steps"][0]

    _edit(data_dir / "en-US" / "steps.json", swap)
    with pytest.raises(ContentError, match="numbered 1, 2, 3"):
        load("en-US", data_dir)


def test_a_topic_naming_two_steps_is_a_content_error(data_dir: Path) -> None:
    _edit(data_dir / "en-US" / "steps.json", lambda d: d["steps"][7]["topics"].append("empathy"))
    with pytest.raises(ContentError, match="'empathy' names both step 6 and 8"):
        load("en-US", data_dir)


def test_a_step_with_nothing_to_say_is_a_content_error(data_dir: Path) -> None:
    _edit(data_dir / "en-US" / "steps.json", lambda d: d["steps"][2].update(spoken=[]))
    with pytest.raises(ContentError, match=r"steps\.json\[2\]\.spoken"):
        load("en-US", data_dir)


def test_a_phrase_with_an_unknown_field_is_a_content_error(data_dir: Path) -> None:
    _edit(
        data_dir / "en-US" / "phrases.json",
        lambda d: d["said"].update(Help="Say {command} to move on."),
    )
    with pytest.raises(ContentError, match=r"said\.Help: unknown fields \['command'\]"):
        load("en-US", data_dir)


def test_a_missing_guide_object_is_a_content_error(data_dir: Path) -> None:
    _edit(data_dir / "en-US" / "steps.json", lambda d: d.pop("guide"))
    with pytest.raises(ContentError, match="missing 'guide' object"):
        load("en-US", data_dir)
