import json
import subprocess

import pytest
from django.db import transaction

from tickstock_ops import events, testing

pytestmark = pytest.mark.django_db(transaction=True)


def listen(*args: str, timeout: float = 60) -> list[dict]:
    result = testing.run_manage("listen", *args, "--idle-exit", "1.5", timeout=timeout)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def publish_many(event_type: str, count: int) -> list[str]:
    with transaction.atomic():
        return [str(events.publish(event_type, {"n": n}).event_id) for n in range(count)]


def test_a_consumer_offline_during_1000_events_catches_up_from_its_group_position(redis_conn):
    publish_many("tickstock.ipo.detected", 1)
    assert listen("--types", "tickstock.ipo.*", "--group", "tickstock-app", "--from-start") != []

    missed = publish_many("tickstock.ipo.detected", 1000)
    caught_up = listen("--types", "tickstock.ipo.*", "--group", "tickstock-app")

    assert [e["id"] for e in caught_up] == missed
    assert listen("--types", "tickstock.ipo.*", "--group", "tickstock-app") == []


def test_types_take_globs_and_other_types_are_not_printed(redis_conn):
    publish_many("tickstock.ipo.detected", 2)
    publish_many("tickstock.quality.volume_spike", 3)

    printed = listen("--types", "tickstock.quality.*", "--from-start")

    assert {e["type"] for e in printed} == {"tickstock.quality.volume_spike"}
    assert len(printed) == 3


def joined(client, stream: str, group: str) -> bool:
    return any(g["name"].decode() == group for g in client.xinfo_groups(stream))


def test_a_new_group_without_from_start_sees_only_new_events(redis_conn):
    publish_many("tickstock.ipo.detected", 5)
    process = testing.manage("listen", "--types", "tickstock.ipo.*", "--group", "late", "--max-events", "2",
                             stdout=subprocess.PIPE, text=True)
    try:
        testing.wait_until(lambda: joined(redis_conn, "tickstock.ipo.detected", "late"), timeout=120, what="the group")
        fresh = publish_many("tickstock.ipo.detected", 2)
        output, _ = process.communicate(timeout=30)
    finally:
        testing.stop(process)
    assert [json.loads(line)["id"] for line in output.splitlines()] == fresh


def test_events_left_unacknowledged_by_a_crashed_consumer_are_printed_again(redis_conn):
    from tickstock_ops.listen import StreamListener

    publish_many("tickstock.ipo.error", 3)
    crashed = StreamListener(redis_conn, ["tickstock.ipo.*"], group="app", consumer="worker-1", from_start=True)
    stream, entry_id, first = next(crashed.envelopes())  # read but never acknowledged

    again = listen("--types", "tickstock.ipo.*", "--group", "app", "--consumer", "worker-1")

    assert again[0]["id"] == first["id"]
    assert len({e["id"] for e in again}) == 3


def test_listen_with_redis_unreachable_says_so_in_one_line():
    result = testing.run_manage("listen", env=testing.process_env(REDIS_URL=f"redis://127.0.0.1:{testing.free_port()}/0"))
    assert result.returncode == 1
    assert "REDIS_URL" in result.stderr and "Traceback" not in result.stderr
