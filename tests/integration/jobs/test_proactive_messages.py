"""proactiveMessages against real PostgreSQL and Redis, with the real SDK on a fake Claude API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from loguru import logger

from brewd.jobs import ALL_JOBS, proactive_messages
from brewd.jobs.proactive.rules import SYSTEM_PROMPT, TEMPLATES
from tests.fakes.claude_api import FakeClaudeAPI, Reply
from tests.integration.jobs.proactive_world import (
    add_cafe,
    add_message,
    add_pokes,
    add_users,
    dead_redis,
    make_ctx,
    posts,
    writer_for,
)

NOW = datetime(2024, 1, 15, 15, 0, tzinfo=UTC)  # 15:00 UTC: no time-of-day trigger in UTC
MINUTE = timedelta(minutes=1)


@pytest.fixture
def fake() -> Iterator[FakeClaudeAPI]:
    with FakeClaudeAPI() as api:
        yield api


def test_registered_under_its_api_name():
    assert ALL_JOBS["proactiveMessages"] is proactive_messages


def test_claude_writes_and_the_record_says_so(pg, cache, fake):
    cafe = add_cafe(pg)
    users = add_users(pg, cafe, 2, NOW)
    add_message(pg, users[0], NOW - 5 * MINUTE)
    writer = writer_for(fake.base_url)
    result = proactive_messages.run(make_ctx(pg, cache, NOW, claude=writer))
    assert (result.affected_records, result.message) == (
        1,
        "posted 1 message (1 from Claude, 0 from templates)",
    )
    [row] = posts(pg, cafe)
    assert row["content"] == Reply().text
    assert row["message_type"] == "PROACTIVE"
    assert row["created_at"] == NOW
    assert row["context_data"] == {
        "trigger": "duo",
        "source": "claude",
        "model": "claude-haiku-4-5",
        "activeUsers": 2,
        "recentPokes": 0,
        "recentMessages": 1,
        "localHour": 15,
    }
    [body] = fake.bodies
    assert body["model"] == "claude-haiku-4-5"
    assert body["max_tokens"] == 150
    assert body["system"] == SYSTEM_PROMPT
    assert "temperature" not in body  # the current SDK and models no longer take it
    assert fake.headers[0]["Authorization"] == "Bearer sk-ant-test-SECRET42"


def test_no_username_or_message_content_leaves_the_system(pg, cache, fake):
    cafe = add_cafe(pg, name="The Daily Grind")
    users = add_users(pg, cafe, 6, NOW, prefix="zephyrine_qx")
    add_pokes(pg, users, 2, NOW - MINUTE, text="pokesecret-7731")
    add_message(pg, users[1], NOW - MINUTE, content="purple-elephant-4411 my phone is 555-0199")
    proactive_messages.run(make_ctx(pg, cache, NOW, claude=writer_for(fake.base_url)))
    [raw] = fake.raw
    for private in (b"zephyrine", b"pokesecret", b"purple-elephant", b"555-0199"):
        assert private not in raw
    prompt = fake.bodies[0]["messages"][0]["content"]
    assert "The Daily Grind" in prompt
    assert "People here now: 6" in prompt
    assert "Chat messages in the last 30 minutes: 1" in prompt
    assert "zephyrine" not in json.dumps(posts(pg, cafe)[0]["context_data"])


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(status=500), "API error"),
        (Reply(status=529), "API error"),
        (Reply(status=429, retry_after="30"), "API error"),
        (Reply(delay=5.0), "API error"),  # the writer's timeout is 0.3 s
        (Reply(garbage=True), "API error"),
        (Reply(text="x" * 281), "rejected reply"),
        (Reply(text="Say hi! Menu at brewmein.example.com"), "rejected reply"),
        (Reply(text="Details: https://evil.test/x"), "rejected reply"),
        (Reply(text="   \n "), "rejected reply"),
    ],
)
def test_any_failure_falls_back_to_a_template(pg, cache, fake, reply, reason):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    fake.then(reply)
    writer = writer_for(fake.base_url, timeout=0.3)
    result = proactive_messages.run(make_ctx(pg, cache, NOW, claude=writer))
    assert result.affected_records == 1
    assert f"0 from Claude, 1 from templates: 1 {reason}" in result.message
    assert (result.by_source, result.fallbacks) == ({"template": 1}, {reason: 1})
    [row] = posts(pg, cafe)
    assert row["content"] in TEMPLATES["duo"]
    assert row["context_data"]["source"] == "template"
    assert row["context_data"]["model"] is None


def test_a_reply_of_exactly_280_characters_is_posted(pg, cache, fake):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    fake.then(Reply(text="  " + "y" * 280 + "\n"))
    proactive_messages.run(make_ctx(pg, cache, NOW, claude=writer_for(fake.base_url)))
    assert posts(pg, cafe)[0]["content"] == "y" * 280


def test_sdk_retries_are_bounded_by_max_retries(pg, cache, fake):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    fake.then(Reply(status=500, retry_after="0.01"), Reply(status=500, retry_after="0.01"))
    writer = writer_for(fake.base_url, max_retries=1)
    proactive_messages.run(make_ctx(pg, cache, NOW, claude=writer))
    assert fake.calls == 2  # one try and one retry, then the template
    assert posts(pg, cafe)[0]["context_data"]["source"] == "template"


def test_an_outage_stops_calling_claude_for_the_rest_of_the_run(pg, cache, fake):
    fake.default = Reply(status=529)
    cafes = [add_cafe(pg, name=f"Cafe {i}") for i in range(12)]
    for cafe in cafes:
        add_users(pg, cafe, 2, NOW)
    writer = writer_for(fake.base_url)
    result = proactive_messages.run(make_ctx(pg, cache, NOW, claude=writer, concurrency=2))
    assert result.affected_records == 12
    assert fake.calls <= 4  # the breaker opens after 2 failures in a row (2 more in flight)
    assert "Claude unavailable" in result.message


def test_without_an_api_key_templates_are_used(pg, cache):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 3, NOW)  # 3 users, no pokes: ice_breaker
    result = proactive_messages.run(make_ctx(pg, cache, NOW, claude=None))
    assert result.message == "posted 1 message (0 from Claude, 1 from templates)"
    [row] = posts(pg, cafe)
    assert row["content"] in TEMPLATES["ice_breaker"]
    assert row["context_data"]["source"] == "template"


def test_disabled_posts_nothing_and_says_so(pg, cache, fake):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    ctx = make_ctx(pg, cache, NOW, claude=writer_for(fake.base_url), enabled=False)
    result = proactive_messages.run(ctx)
    assert (result.affected_records, result.message) == (0, "disabled")
    assert posts(pg) == []
    assert fake.calls == 0


def test_publish_reaches_a_subscriber_with_the_spec_json(pg, cache, fake):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    pubsub = cache.pubsub()
    pubsub.subscribe(f"cafe:{cafe}:messages")
    assert pubsub.get_message(timeout=5)["type"] == "subscribe"
    proactive_messages.run(make_ctx(pg, cache, NOW, claude=writer_for(fake.base_url)))
    received = pubsub.get_message(timeout=5)
    pubsub.close()
    assert json.loads(received["data"]) == {
        "type": "AGENT_MESSAGE",
        "cafeId": str(cafe),
        "message": Reply().text,
        "timestamp": "2024-01-15T15:00:00.000Z",
    }
    key = f"cafe:{cafe}:last_proactive_message"
    assert cache.get(key) == str(int(NOW.timestamp() * 1000))
    assert 0 < cache.ttl(key) <= 86_400


def test_redis_down_keeps_the_records_and_reports_it(pg, fake):
    cafes = [add_cafe(pg, name=f"Cafe {i}") for i in range(3)]
    for cafe in cafes:
        add_users(pg, cafe, 2, NOW)
    ctx = make_ctx(pg, dead_redis(), NOW, claude=writer_for(fake.base_url))
    result = proactive_messages.run(ctx)
    assert result.affected_records == 3
    assert result.message.endswith("; publish failed for 3 (records kept)")
    assert [len(posts(pg, cafe)) for cafe in cafes] == [1, 1, 1]


def test_skips_are_counted_by_reason_and_a_bad_zone_is_logged_once(pg, cache):
    lonely = add_cafe(pg, name="Lonely")
    add_users(pg, lonely, 1, NOW)
    quiet = add_cafe(pg, name="Quiet")  # 3 people, 1 poke, 15:00: nothing applies
    add_pokes(pg, add_users(pg, quiet, 3, NOW), 1, NOW - MINUTE)
    for name in ("Mars 1", "Mars 2"):
        add_users(pg, add_cafe(pg, name=name, tz="Mars/Olympus_Mons"), 2, NOW)
    add_users(pg, add_cafe(pg, name="Off", enabled=False), 2, NOW)
    add_users(pg, add_cafe(pg, name="Closed", active=False), 2, NOW)
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        result = proactive_messages.run(make_ctx(pg, cache, NOW))
    finally:
        logger.remove(sink)
    assert result.message == (
        "posted 0 messages (0 from Claude, 0 from templates); "
        "skipped 4 cafés: 1 no trigger, 1 too few users, 2 unknown time zone"
    )
    assert [line for line in lines if "Mars/Olympus_Mons" in line] == [
        "skipping 2 café(s) with unknown time zone 'Mars/Olympus_Mons' (want an IANA name)\n"
    ]
    assert posts(pg) == []


def test_the_api_key_never_reaches_the_logs(pg, cache, fake):
    cafe = add_cafe(pg)
    add_users(pg, cafe, 2, NOW)
    fake.then(Reply(status=401))
    lines: list[str] = []
    sink = logger.add(lines.append, level="DEBUG")
    try:
        proactive_messages.run(make_ctx(pg, cache, NOW, claude=writer_for(fake.base_url)))
    finally:
        logger.remove(sink)
    assert any("HTTP 401 authentication_error" in line for line in lines)
    assert not any("SECRET42" in line for line in lines)
