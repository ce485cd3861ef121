"""proactiveMessages, the pure part: triggers, time bands, prompts, reply checks, templates."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

MAX_CHARS = 280
MIN_ACTIVE_USERS = 2
POKE_FRENZY_ABOVE = 5  # recent pokes > 5
CROWD_AT_LEAST = 5  # active users >= 5
DUO = 2

# Local hours [start, end) of the time-of-day triggers, in the spec's order.
HOUR_TRIGGERS: tuple[tuple[str, int, int], ...] = (
    ("morning", 6, 10),
    ("lunch", 12, 14),
    ("after_work", 17, 20),
)

# Every local hour has a band name, so the prompt always says what time of day it is.
BANDS: tuple[tuple[str, int, int], ...] = (
    ("night", 0, 6),
    ("morning", 6, 10),
    ("late morning", 10, 12),
    ("lunchtime", 12, 14),
    ("afternoon", 14, 17),
    ("after work", 17, 20),
    ("evening", 20, 24),
)


@dataclass(frozen=True)
class CafeActivity:
    """A café's aggregates; the only facts about people that ever reach a prompt."""

    active_users: int
    recent_pokes: int
    recent_messages: int
    local_hour: int


def choose_trigger(activity: CafeActivity) -> str | None:
    """The first trigger of the spec's order that applies, or None (skip)."""
    if activity.active_users < MIN_ACTIVE_USERS:
        return None
    if activity.recent_pokes > POKE_FRENZY_ABOVE:
        return "poke_frenzy"
    if activity.active_users >= CROWD_AT_LEAST:
        return "crowd"
    if activity.active_users == DUO:
        return "duo"
    if activity.recent_pokes == 0:
        return "ice_breaker"
    for name, start, end in HOUR_TRIGGERS:
        if start <= activity.local_hour < end:
            return name
    return None


def time_band(local_hour: int) -> str:
    for name, start, end in BANDS:
        if start <= local_hour < end:
            return name
    raise ValueError(f"local hour out of range: {local_hour}")


SYSTEM_PROMPT = (
    "You are the warm, welcoming host of a neighbourhood café, posting one message to the "
    "café's group chat. Write one or two short sentences, at most 280 characters in total. "
    "Be friendly and light, and invite people to chat or say hello to each other. "
    "Never include links, web addresses, email addresses, hashtags or phone numbers. "
    "Never mention or guess anyone's name or any personal detail; speak to the room as a whole. "
    "Reply with the message text only."
)

_TRIGGER_HINTS = {
    "poke_frenzy": "lots of people are poking each other right now",
    "crowd": "the café is busy",
    "duo": "exactly two people are here",
    "ice_breaker": "people are here but nobody has poked anyone yet",
    "morning": "it is the morning rush",
    "lunch": "it is lunchtime",
    "after_work": "people are dropping in after work",
}


def user_prompt(cafe_name: str, band: str, trigger: str, activity: CafeActivity) -> str:
    """The user prompt: aggregates only (no usernames, no message contents)."""
    return (
        f"Café: {cafe_name}\n"
        f"Local time of day: {band}\n"
        f"Situation: {trigger} ({_TRIGGER_HINTS[trigger]})\n"
        f"People here now: {activity.active_users}\n"
        f"Pokes in the last 30 minutes: {activity.recent_pokes}\n"
        f"Chat messages in the last 30 minutes: {activity.recent_messages}\n"
        "Write the host's message."
    )


# A URL in any form a chat client may turn into a link: a scheme, www., or a bare domain
# (label dot letters-only TLD, e.g. example.com). Strict on purpose: a false alarm only costs
# a template, a missed link is a link posted to a room of strangers.
_URL = re.compile(
    r"https?://|\bwww\.|\b(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,}\b",
    re.IGNORECASE,
)


def reply_problem(text: str) -> str | None:
    """Why a reply cannot be posted (empty, too long, holds a URL), or None when it can."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    if len(stripped) > MAX_CHARS:
        return f"too long ({len(stripped)} > {MAX_CHARS} characters)"
    if _URL.search(stripped):
        return "holds a URL"
    return None


TEMPLATES: dict[str, tuple[str, ...]] = {
    "poke_frenzy": (
        "The pokes are flying today! Why not turn one into a proper hello?",
        "So many pokes in the air! Poke back, then say hi for real.",
        "This café is buzzing with pokes. Someone's bound to poke back if you join in!",
    ),
    "crowd": (
        "What a lovely crowd today! Say hello to someone new while your coffee cools.",
        "The café is full of good company. Perfect moment to start a conversation!",
        "Busy in here today! Share a table, share a story.",
    ),
    "duo": (
        "Just the two of you here right now: the perfect size for a good chat.",
        "Two coffee lovers, one café. Why not say hello?",
        "A quiet moment for two. Anyone up for a friendly hello?",
    ),
    "ice_breaker": (
        "Nobody has poked anyone yet. Be the first to break the ice!",
        "Feeling shy? A friendly poke is the easiest way to say hello.",
        "Here's a little nudge: poke someone and start a conversation!",
    ),
    "morning": (
        "Good morning! Fresh coffee, fresh faces. Say hi to someone before the day gets busy.",
        "Morning, everyone! What's fuelling your day today?",
        "Rise and shine! A cup of coffee tastes even better with a friendly hello.",
    ),
    "lunch": (
        "Lunchtime! What's everyone having with their coffee today?",
        "Time for a break. Say hello to your neighbour over lunch!",
        "Midday pause: a good moment to meet someone new.",
    ),
    "after_work": (
        "Done for the day? Unwind here and say hello to a fellow regular.",
        "The workday is over: time to relax and chat with someone new.",
        "After-work coffee crowd, welcome! How was everyone's day?",
    ),
}


def template(trigger: str, seed: str) -> str:
    """A built-in message for the trigger, picked by a hash of `seed` (café and time): the
    same run always picks the same one (reproducible, testable), while different cafés and
    different runs vary, so a café does not see one sentence over and over."""
    choices = TEMPLATES[trigger]
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return choices[int.from_bytes(digest[:4], "big") % len(choices)]
