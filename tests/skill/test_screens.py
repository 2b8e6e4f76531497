"""Devices with a screen (APL) see the step they hear; devices without one get no directive."""

from __future__ import annotations

import re

from skill import content as content_module
from skill.envelopes import Listener, intent_request, new_session_id

APL = {"Alexa.Presentation.APL": {"runtime": {"maxVersion": "2023.3"}}}


def ask(skill, name: str, screen: bool) -> dict:
    event = Listener().envelope(intent_request(name), new_session_id(), True)
    if screen:
        event["context"]["System"]["device"]["supportedInterfaces"] = APL
    return skill.handle(event)["response"]


def test_a_screen_shows_the_step_that_was_read(skill):
    response = ask(skill, "AMAZON.NextIntent", screen=True)
    (directive,) = response["directives"]
    assert directive["type"] == "Alexa.Presentation.APL.RenderDocument"
    assert directive["document"] == content_module.apl_document("step")
    guide = directive["datasources"]["guide"]
    step = content_module.load().step(1)
    assert guide["header"] == f"Step 1 of 8 · {content_module.load().title}"
    assert guide["title"] == step.title and guide["text"] == step.card
    assert response["card"]["content"] == step.card, "the card and the screen agree"


def test_the_document_uses_only_what_the_data_gives_it(skill):
    response = ask(skill, "AMAZON.NextIntent", screen=True)
    (directive,) = response["directives"]
    document = directive["document"]
    assert document["mainTemplate"]["parameters"] == ["guide"]
    used = set(re.findall(r"\$\{guide\.(\w+)\}", str(document)))
    assert used == set(directive["datasources"]["guide"]), used


def test_no_screen_no_directive(skill):
    assert "directives" not in ask(skill, "AMAZON.NextIntent", screen=False)


def test_a_screen_gets_no_document_when_no_step_was_read(skill):
    assert "directives" not in ask(skill, "WhereAmIIntent", screen=True)
