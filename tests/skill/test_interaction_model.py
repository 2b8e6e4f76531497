"""interaction_model/<locale>.json agrees with the handlers and the content, for every locale."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from skill.content import load, locales, normalise
from skill.handlers import COMMANDS

ROOT = Path(__file__).resolve().parents[2]
MODELS = sorted((ROOT / "interaction_model").glob("*.json"))
REQUIRED_BUILT_INS = {
    "AMAZON.HelpIntent",
    "AMAZON.StopIntent",
    "AMAZON.CancelIntent",
    "AMAZON.NavigateHomeIntent",
    "AMAZON.FallbackIntent",
    "AMAZON.NextIntent",
    "AMAZON.PreviousIntent",
    "AMAZON.RepeatIntent",
    "AMAZON.StartOverIntent",
    "AMAZON.YesIntent",
    "AMAZON.NoIntent",
}
MIN_CUSTOM_SAMPLES = 8
SLOT = re.compile(r"\{([^{}]+)\}")


def language_model(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))["interactionModel"]["languageModel"]


@pytest.fixture(params=MODELS, ids=lambda p: p.stem)
def model(request: pytest.FixtureRequest) -> dict[str, Any]:
    return language_model(request.param)


@pytest.fixture
def intents(model: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {intent["name"]: intent for intent in model["intents"]}


def test_there_is_an_en_us_model() -> None:
    assert "en-US" in [p.stem for p in MODELS], f"models found: {[p.name for p in MODELS]}"


def test_every_locale_with_content_has_a_model_and_the_other_way_round() -> None:
    assert sorted(p.stem for p in MODELS) == locales()


def test_invocation_name_is_trust_guide(model: dict[str, Any]) -> None:
    assert model["invocationName"] == "trust guide"


def test_every_handled_intent_is_in_the_model_and_the_other_way_round(
    intents: dict[str, Any],
) -> None:
    handled, modelled = set(COMMANDS), set(intents)
    assert not handled - modelled, f"handled but not in the model: {sorted(handled - modelled)}"
    assert not modelled - handled, f"in the model but not handled: {sorted(modelled - handled)}"


def test_required_built_in_intents_are_present(intents: dict[str, Any]) -> None:
    missing = REQUIRED_BUILT_INS - set(intents)
    assert not missing, f"missing built-in intents: {sorted(missing)}"


def test_intent_names_are_unique(model: dict[str, Any]) -> None:
    names = [intent["name"] for intent in model["intents"]]
    assert len(names) == len(set(names)), f"an intent is declared twice: {names}"


def test_custom_intents_have_enough_samples(intents: dict[str, Any]) -> None:
    for name, intent in intents.items():
        if name.startswith("AMAZON."):
            continue
        samples = intent.get("samples", [])
        assert len(samples) >= MIN_CUSTOM_SAMPLES, f"{name} has {len(samples)} samples"


def test_custom_intents_named_in_the_issue_are_present(intents: dict[str, Any]) -> None:
    assert {"GoToStepIntent", "ListStepsIntent", "WhereAmIIntent"} <= set(intents)


def test_samples_spell_numbers_out(intents: dict[str, Any]) -> None:
    with_digits = [
        (name, sample)
        for name, intent in intents.items()
        for sample in intent.get("samples", [])
        if re.search(r"\d", SLOT.sub("", sample))
    ]
    assert not with_digits, f"samples with digits (Alexa needs words): {with_digits}"


def test_no_sample_is_in_two_intents(intents: dict[str, Any]) -> None:
    owners: dict[str, set[str]] = defaultdict(set)
    for name, intent in intents.items():
        for sample in intent.get("samples", []):
            owners[" ".join(sample.lower().split())].add(name)
    shared = {sample: sorted(names) for sample, names in owners.items() if len(names) > 1}
    assert not shared, f"samples in more than one intent: {shared}"


def test_no_sample_is_repeated_within_an_intent(intents: dict[str, Any]) -> None:
    for name, intent in intents.items():
        samples = [" ".join(s.lower().split()) for s in intent.get("samples", [])]
        assert len(samples) == len(set(samples)), f"{name} repeats a sample"


def test_every_slot_in_a_sample_is_declared(intents: dict[str, Any]) -> None:
    for name, intent in intents.items():
        declared = {slot["name"] for slot in intent.get("slots", [])}
        for sample in intent.get("samples", []):
            used = set(SLOT.findall(sample))
            assert used <= declared, f"{name}: {sample!r} uses undeclared {used - declared}"


def test_every_slot_type_is_built_in_or_declared(model: dict[str, Any]) -> None:
    declared = {t["name"] for t in model.get("types", [])}
    for intent in model["intents"]:
        for slot in intent.get("slots", []):
            kind = slot["type"]
            assert kind.startswith("AMAZON.") or kind in declared, (
                f"{intent['name']}.{slot['name']} has undeclared type {kind}"
            )


def test_go_to_step_slots_are_number_and_step_topic(intents: dict[str, Any]) -> None:
    slots = {slot["name"]: slot["type"] for slot in intents["GoToStepIntent"]["slots"]}
    assert slots == {"number": "AMAZON.NUMBER", "topic": "STEP_TOPIC"}


def test_step_topic_has_one_value_per_step_with_the_steps_ids_and_topics() -> None:
    for path in MODELS:
        content = load(path.stem)
        types = {t["name"]: t for t in language_model(path)["types"]}
        values = types["STEP_TOPIC"]["values"]
        assert [v["id"] for v in values] == [s.id for s in content.steps], (
            f"{path.name}: STEP_TOPIC ids are not the step ids of steps.json, in order"
        )
        for value, step in zip(values, content.steps, strict=True):
            said = {normalise(value["name"]["value"])}
            said |= {normalise(s) for s in value["name"].get("synonyms", [])}
            topics = {normalise(t) for t in step.topics}
            assert said == topics, (
                f"{path.name} {step.id}: model and content disagree; only in the model "
                f"{sorted(said - topics)}, only in content {sorted(topics - said)}"
            )


def test_no_topic_synonym_names_two_steps(model: dict[str, Any]) -> None:
    types = {t["name"]: t for t in model["types"]}
    owner: dict[str, str] = {}
    for value in types["STEP_TOPIC"]["values"]:
        for word in [value["name"]["value"], *value["name"].get("synonyms", [])]:
            key = normalise(word)
            assert owner.setdefault(key, value["id"]) == value["id"], (
                f"{word!r} is a synonym of both {owner[key]} and {value['id']}"
            )
