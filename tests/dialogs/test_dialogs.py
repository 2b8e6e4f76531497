"""Whole conversations, as a listener has them: sessions open and close, the skill object may be
rebuilt (a new Lambda container), and one SQLite file remembers. Every turn is checked against
Alexa's rules by the `conversation` fixture."""

from __future__ import annotations

import pytest

from skill.builder import build_skill

PERSON = "amzn1.ask.person.AEXAMPLEPERSONAAAAQ3H6Y2NVZ7WBKCDJUE4L"


def listening(talk) -> bool:
    return talk.in_session and talk.last["response"].get("shouldEndSession") is False


def test_launch_next_next_stop_then_launch_resumes_at_step_three(conversation, settings) -> None:
    talk = conversation
    talk.launch()
    assert talk.said.startswith("Welcome to Trust Guide")
    assert talk.said.endswith("Shall I begin with step 1, Educate Yourself?")
    talk.yes()
    assert talk.said.startswith("Step 1: Educate Yourself.")
    talk.next()
    assert talk.said.startswith("Step 2: Be Patient and Understanding.")
    talk.next()
    assert talk.said.startswith("Step 3: Create a Safe Environment.")
    talk.stop()
    assert "I'll remember that you were on step 3" in talk.said
    assert not talk.in_session

    talk.new_session(skill=build_skill(settings))  # another day, another Lambda container
    talk.launch()
    assert talk.said.startswith(
        "Welcome back. Last time you heard step 3, Create a Safe Environment."
    ), talk.said
    assert talk.said.endswith("Shall I go on with step 4, Set Clear Boundaries?")
    assert "yes" in talk.reprompt and "step 4" in talk.reprompt
    talk.yes()
    assert talk.said.startswith("Step 4: Set Clear Boundaries.")


def test_next_also_accepts_the_resume_offer(conversation) -> None:
    conversation.go_to(number="2")
    conversation.end()
    conversation.launch()
    conversation.next()
    assert conversation.said.startswith("Step 3: Create a Safe Environment.")


def test_no_to_resuming_offers_the_list_and_yes_lists_the_steps(conversation) -> None:
    talk = conversation
    talk.go_to(number="4")
    talk.end()
    talk.launch()
    talk.no()
    assert talk.said.startswith("No problem.")
    assert "hear the list of steps" in talk.said and "start over" in talk.said
    assert listening(talk)
    talk.yes()
    assert talk.said.startswith("Here are the 8 steps.")
    for number, title in [(1, "Educate Yourself"), (8, "Practice Self-Care")]:
        assert f"Step {number}: {title}." in talk.said
    talk.next()  # after the list, next still goes on from where the listener was
    assert talk.said.startswith("Step 5: Be Consistent and Reliable.")


def test_no_to_the_list_offer_says_goodbye_and_keeps_the_place(conversation) -> None:
    conversation.go_to(number="4")
    conversation.end()
    conversation.launch()
    conversation.no()
    conversation.no()
    assert "I'll remember that you were on step 4" in conversation.said
    assert not conversation.in_session


def test_next_after_step_eight_completes_then_yes_starts_over(conversation) -> None:
    talk = conversation
    talk.go_to(number="7")
    talk.next()
    assert talk.said.startswith("Step 8: Practice Self-Care.")
    assert "That was the last step." in talk.said
    talk.next()
    assert talk.said.startswith("There are no more steps: you've reached the end of the guide.")
    assert talk.said.endswith("Would you like to start over from step one?")
    assert listening(talk)
    talk.yes()
    assert talk.said.startswith("Okay, let's begin again. Step 1: Educate Yourself.")
    talk.where_am_i()
    assert "You're on step 1 of 8" in talk.said, "starting over moves the place to step 1"


def test_a_finished_listener_is_welcomed_back_with_an_offer_to_start_over(conversation) -> None:
    conversation.go_to(number="8")
    conversation.stop()
    conversation.launch()
    assert "you reached the end of the guide" in conversation.said
    conversation.yes()
    assert conversation.said.startswith("Okay, let's begin again. Step 1")


@pytest.mark.parametrize(
    ("number", "answer"),
    [("42", "There's no step 42."), ("0", "There's no step 0."), ("?", "didn't catch that number")],
)
def test_go_to_a_step_out_of_range_keeps_listening_and_keeps_the_place(
    conversation, number: str, answer: str
) -> None:
    talk = conversation
    talk.go_to(number="3")
    talk.go_to(number=number)
    assert answer in talk.said
    assert "1 to 8" in talk.said, "the range is named"
    assert listening(talk)
    talk.where_am_i()
    assert talk.said.startswith("You're on step 3 of 8, Create a Safe Environment.")
    talk.next()
    assert talk.said.startswith("Step 4: Set Clear Boundaries.")


def test_where_am_i_names_the_step_and_how_many_were_heard(conversation) -> None:
    conversation.launch()
    conversation.yes()
    conversation.next()
    conversation.where_am_i()
    assert conversation.said.startswith(
        "You're on step 2 of 8, Be Patient and Understanding. So far you've heard 2 of the 8 steps."
    ), conversation.said
    assert listening(conversation)


def test_where_am_i_before_any_step_offers_step_one(conversation) -> None:
    conversation.launch()
    conversation.where_am_i()
    assert conversation.said.startswith("We haven't started the guide yet.")


def test_repeat_rereads_the_current_step_again_and_again(conversation, content) -> None:
    """The how-to sample's second repeat crashed; ours re-renders from progress every time."""
    talk = conversation
    step = content.step(5)
    talk.go_to(number="5")
    for _ in range(2):
        talk.repeat()
        assert talk.said.startswith(f"Step 5: {step.title}."), talk.said
        assert step.spoken[-1] in talk.said, "the whole step is read again"
    talk.where_am_i()
    assert talk.said.startswith("You're on step 5 of 8")


def test_previous_at_step_one_stays_there(conversation) -> None:
    talk = conversation
    talk.launch()
    talk.yes()
    talk.previous()
    assert talk.said.startswith("You're at the first step already.")
    assert listening(talk)
    talk.next()
    assert talk.said.startswith("Step 2: Be Patient and Understanding.")
    talk.previous()
    assert talk.said.startswith("Step 1: Educate Yourself.")


def test_help_keeps_the_pending_question(conversation) -> None:
    talk = conversation
    talk.go_to(number="4")
    talk.end()
    talk.launch()  # "shall I go on with step 5?"
    talk.help()
    assert "Say next or previous" in talk.said
    assert listening(talk)
    talk.no()  # still the answer to resuming: offers the list
    assert talk.said.startswith("No problem."), talk.said
    talk.help()
    talk.yes()  # still the answer to the list offer
    assert talk.said.startswith("Here are the 8 steps."), talk.said


def test_fallback_reasks_the_pending_question(conversation) -> None:
    talk = conversation
    talk.go_to(number="4")
    talk.end()
    talk.launch()
    talk.fallback()
    assert talk.said.startswith("Sorry, I can't help with that here.")
    assert talk.said.endswith("Shall I go on with step 5, Be Consistent and Reliable?")
    talk.yes()
    assert talk.said.startswith("Step 5: Be Consistent and Reliable.")


def test_go_to_by_name_in_the_listeners_own_words(conversation) -> None:
    talk = conversation
    talk.go_to(topic="the one about boundaries")  # ER_SUCCESS_NO_MATCH: raw words only
    assert talk.said.startswith("Step 4: Set Clear Boundaries.")
    talk.go_to(topic="empathy", topic_id="empathy")  # ER_SUCCESS_MATCH
    assert talk.said.startswith("Step 6: Offer Empathy and Validation.")
    talk.go_to(topic="quantum physics")
    assert "couldn't find a step about quantum physics" in talk.said
    talk.where_am_i()
    assert talk.said.startswith("You're on step 6 of 8")


def test_list_then_a_number_reads_that_step(conversation) -> None:
    conversation.launch()
    conversation.list_steps()
    assert conversation.said.startswith("Here are the 8 steps.")
    conversation.go_to(number="7")
    assert conversation.said.startswith("Step 7: Seek Professional Help.")


def test_start_over_midway_reads_step_one_and_keeps_what_was_heard(conversation) -> None:
    talk = conversation
    talk.go_to(number="6")
    talk.start_over()
    assert talk.said.startswith("Okay, let's begin again. Step 1: Educate Yourself.")
    talk.where_am_i()
    assert "You're on step 1 of 8, Educate Yourself." in talk.said
    assert "So far you've heard 2 of the 8 steps." in talk.said, "steps 6 and 1"


def test_one_shot_intent_in_a_new_session_without_launch(conversation) -> None:
    talk = conversation
    response = talk.go_to(number="5")  # "Alexa, ask trust guide to go to step five"
    assert talk.responses == [response] and talk.new is False
    assert talk.said.startswith("Step 5: Be Consistent and Reliable.")
    assert listening(talk)
    talk.stop()
    talk.where_am_i()  # another one-shot, another session
    assert talk.said.startswith("You're on step 5 of 8")


def test_session_end_is_silent_and_an_old_question_does_not_carry_over(conversation) -> None:
    talk = conversation
    talk.go_to(number="3")
    talk.end(reason="EXCEEDED_MAX_REPROMPTS")
    assert talk.said == "" and talk.reprompt == ""
    talk.yes()  # a one-shot "yes" in a new session answers nothing asked there
    assert talk.said.startswith("Sorry, I'm not sure what that answers."), talk.said
    talk.launch()
    assert talk.said.startswith("Welcome back. Last time you heard step 3")


def test_session_ended_by_an_error_keeps_the_place(conversation) -> None:
    conversation.go_to(number="2")
    conversation.end(reason="ERROR")
    conversation.launch()
    assert "Last time you heard step 2" in conversation.said


@pytest.mark.parametrize("intent", ["AMAZON.CancelIntent", "AMAZON.NavigateHomeIntent"])
def test_cancel_and_navigate_home_end_like_stop(conversation, intent: str) -> None:
    conversation.go_to(number="6")
    conversation.intent(intent)
    assert "I'll remember that you were on step 6" in conversation.said
    assert not conversation.in_session


def test_a_person_and_the_account_user_on_one_device_keep_separate_places(
    make_conversation,
) -> None:
    account = make_conversation()
    person = make_conversation(person_id=PERSON)  # same account, same device, voice recognised
    account.go_to(number="2")
    person.go_to(number="6")
    account.stop()
    person.stop()

    account.launch()
    assert "Last time you heard step 2" in account.said
    person.launch()
    assert "Last time you heard step 6" in person.said
    person.yes()
    account.yes()
    assert person.said.startswith("Step 7") and account.said.startswith("Step 3")


def test_two_accounts_keep_separate_places(make_conversation) -> None:
    first = make_conversation(user_id="amzn1.ask.account.AFIRSTLISTENER")
    second = make_conversation(user_id="amzn1.ask.account.ASECONDLISTENER")
    first.go_to(number="4")
    second.launch()
    assert second.said.startswith("Welcome to Trust Guide")
