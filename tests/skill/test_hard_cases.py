"""Hard cases a real skill meets: stores that cannot be opened, records that are odd, requests for
another skill, and answers to the skill's own questions typed as a person would say them."""

from __future__ import annotations

import json
import sqlite3

import pytest

from skill import content as content_module
from skill.builder import WrongSkill, build_skill
from skill.config import Settings
from skill.envelopes import Listener
from skill.simulator import Simulator

PHRASES = content_module.load().phrases["said"]


def test_a_store_folder_that_cannot_be_made_still_answers_and_stop_still_ends(
    tmp_path, make_conversation
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    skill = build_skill(Settings(store=f"sqlite://{blocker}/progress.db"))
    talk = make_conversation(skill)
    talk.launch()
    assert PHRASES["NotLoaded"] in talk.said and "Welcome to Trust Guide" in talk.said
    talk.yes()
    assert talk.said.startswith("Step 1: Educate Yourself."), "the session's copy goes on"
    assert PHRASES["Apology"] not in talk.said
    talk.stop()
    assert not talk.in_session, "stop ends the session even while the store is down"


def seed_record(db, listener: str, record: str, rev: int = 1) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS progress (listener TEXT PRIMARY KEY, record TEXT NOT NULL,"
            " rev INTEGER NOT NULL, updated_at REAL NOT NULL)"
        )
        conn.execute(
            "INSERT OR REPLACE INTO progress VALUES (?, ?, ?, 0)",
            (listener, record, rev),
        )


@pytest.mark.parametrize(
    "record",
    [
        '{"current_step": 0, "steps_heard": [1, 2]}',  # version 0, place lost
        '{"schema": 1, "step": 99, "heard": [1, 2, 3]}',  # a place out of range
        '{"schema": 1, "step": 0, "heard": [4]}',
    ],
)
def test_a_record_with_steps_heard_but_no_place_is_welcomed_not_apologised_to(
    db_path, settings, make_conversation, record
):
    talk = make_conversation(build_skill(settings))
    seed_record(db_path, talk.user_id, record)
    talk.launch()
    assert PHRASES["Apology"] not in talk.said
    assert talk.said.startswith("Welcome to Trust Guide")
    talk.yes()
    assert talk.said.startswith("Step 1: Educate Yourself.")


def test_repeats_do_not_count_as_steps_in_a_row(conversation):
    conversation.launch()
    conversation.yes()
    conversation.repeat()
    conversation.repeat()
    assert "pause" not in conversation.said.lower(), "no pause offer after one step heard thrice"
    conversation.next()
    conversation.next()
    assert "Would you like a one-minute breathing pause before step 4?" in conversation.said


def test_a_request_for_another_skill_is_refused_when_a_skill_id_is_set(settings, envelope):
    skill = build_skill(settings._replace(skill_id="amzn1.ask.skill.ours"))
    with pytest.raises(WrongSkill):
        skill.handle(envelope("launch"))
    ours = envelope("launch")
    ours["context"]["System"]["application"]["applicationId"] = "amzn1.ask.skill.ours"
    ours["session"]["application"]["applicationId"] = "amzn1.ask.skill.ours"
    assert "Welcome to Trust Guide" in json.dumps(skill.handle(ours))


def test_which_kind_of_pause_can_be_answered_by_naming_a_kind(settings):
    simulator = Simulator(build_skill(settings), Listener())
    simulator.say("open trust guide")
    asked = simulator.say("give me a yoga pause")
    assert "I don't have a pause for yoga" in asked.speech
    for answer, kind in (("grounding", "grounding"), ("a stretch please", "neck and shoulder")):
        simulator.say("give me a yoga pause")
        turn = simulator.say(answer)
        assert turn.intent == "SelfCarePauseIntent", (answer, turn.intent)
        assert f"Here's a one-minute {kind}" in turn.speech, turn.speech
