"""proactiveMessages' pure rules: trigger order, bands, prompts, reply checks, templates."""

from __future__ import annotations

import pytest

from brewd.jobs.proactive.rules import (
    MAX_CHARS,
    SYSTEM_PROMPT,
    TEMPLATES,
    CafeActivity,
    choose_trigger,
    reply_problem,
    template,
    time_band,
    user_prompt,
)


def act(users: int, pokes: int = 1, hour: int = 15, messages: int = 0) -> CafeActivity:
    return CafeActivity(
        active_users=users, recent_pokes=pokes, recent_messages=messages, local_hour=hour
    )


@pytest.mark.parametrize(
    ("activity", "trigger"),
    [
        (act(0, pokes=9, hour=7), None),
        (act(1, pokes=9, hour=7), None),  # fewer than 2: skip whatever else holds
        (act(2, pokes=6), "poke_frenzy"),
        (act(9, pokes=6), "poke_frenzy"),  # frenzy before crowd
        (act(5, pokes=5), "crowd"),  # exactly 5 pokes is no frenzy
        (act(5, pokes=0, hour=7), "crowd"),
        (act(2, pokes=0, hour=7), "duo"),  # duo before ice_breaker and morning
        (act(3, pokes=0, hour=7), "ice_breaker"),  # before morning
        (act(4, pokes=1, hour=6), "morning"),
        (act(4, pokes=1, hour=9), "morning"),
        (act(4, pokes=1, hour=10), None),
        (act(4, pokes=1, hour=11), None),
        (act(4, pokes=1, hour=12), "lunch"),
        (act(4, pokes=1, hour=13), "lunch"),
        (act(4, pokes=1, hour=14), None),
        (act(4, pokes=1, hour=16), None),
        (act(4, pokes=1, hour=17), "after_work"),
        (act(4, pokes=1, hour=19), "after_work"),
        (act(4, pokes=1, hour=20), None),
        (act(4, pokes=1, hour=5), None),
        (act(4, pokes=1, hour=0), None),
    ],
)
def test_trigger_is_the_first_that_applies(activity, trigger):
    assert choose_trigger(activity) == trigger


def test_every_hour_has_a_band():
    bands = [time_band(h) for h in range(24)]
    assert bands == (
        ["night"] * 6
        + ["morning"] * 4
        + ["late morning"] * 2
        + ["lunchtime"] * 2
        + ["afternoon"] * 3
        + ["after work"] * 3
        + ["evening"] * 4
    )


@pytest.mark.parametrize("hour", [-1, 24])
def test_a_band_outside_the_day_is_an_error(hour):
    with pytest.raises(ValueError, match="out of range"):
        time_band(hour)


def test_user_prompt_holds_only_aggregates():
    prompt = user_prompt("Bean There", "lunchtime", "lunch", act(4, pokes=2, hour=12, messages=7))
    assert prompt == (
        "Café: Bean There\n"
        "Local time of day: lunchtime\n"
        "Situation: lunch (it is lunchtime)\n"
        "People here now: 4\n"
        "Pokes in the last 30 minutes: 2\n"
        "Chat messages in the last 30 minutes: 7\n"
        "Write the host's message."
    )


def test_system_prompt_sets_the_rules():
    for rule in ("warm", "one or two short sentences", "280 characters", "links", "name"):
        assert rule in SYSTEM_PROMPT


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Hello, coffee lovers!", None),
        ("  Hello!  \n", None),
        ("y" * MAX_CHARS, None),
        ("e.g. a latte at 5.30 p.m. Mr. Bean... enjoy", None),
        ("", "empty"),
        (" \n\t ", "empty"),
        ("y" * (MAX_CHARS + 1), "too long (281 > 280 characters)"),
        ("Menu: http://x.test/menu", "holds a URL"),
        ("Menu: HTTPS://x", "holds a URL"),
        ("Visit www.brew", "holds a URL"),
        ("Find us at example.com today", "holds a URL"),
        ("See brew-me-in.co.uk/menu", "holds a URL"),
        ("Our site café.fr rocks", "holds a URL"),
        ("Typo.Here counts too", "holds a URL"),  # strict: a false alarm costs a template
    ],
)
def test_reply_checks(text, problem):
    assert reply_problem(text) == problem


@pytest.mark.parametrize("trigger", sorted(TEMPLATES))
def test_templates_are_several_and_pass_the_reply_checks(trigger):
    assert len(TEMPLATES[trigger]) >= 3
    for text in TEMPLATES[trigger]:
        assert reply_problem(text) is None


def test_every_trigger_has_templates():
    triggers = {"poke_frenzy", "crowd", "duo", "ice_breaker", "morning", "lunch", "after_work"}
    assert set(TEMPLATES) == triggers


def test_template_choice_is_reproducible_and_varies_with_the_seed():
    assert template("duo", "cafe-1:12:00") == template("duo", "cafe-1:12:00")
    picks = {template("duo", f"cafe-{i}:12:00") for i in range(30)}
    assert picks == set(TEMPLATES["duo"])
