"""`manage.py serve` (what `make run` runs) keeps a bar consumer running: killed, it is started again."""

import contextlib
import os
import signal

import pytest
import redis

from monitors.quality import conf
from monitors.quality.live import streams
from monitors.quality.models import Bar
from monitors.quality.tests.live_builders import minute_bars
from tickstock_ops import testing
from tickstock_ops.redis_client import get_redis

pytestmark = pytest.mark.django_db(transaction=True)


def consumer_pids() -> set[int]:
    """The processes that have read from the bar stream in the consumers' group (a consumer's name is
    host-pid-suffix; Redis 6 lists a consumer once it has been handed an entry)."""
    try:
        members = get_redis().xinfo_consumers(streams.stream_key("1m"), conf.get("QUALITY_LIVE_GROUP"))
    except redis.ResponseError:  # no stream or no group yet
        return set()
    return {int(member["name"].decode().rsplit("-", 2)[1]) for member in members}


def test_serve_starts_the_bar_consumer_again_when_it_exits(tmp_path):
    bars = minute_bars(["AAPL"], 2)
    streams.publish_bars(get_redis(), bars.iloc[:1], interval="1m")
    env = testing.process_env(Q_WORKERS="1", TICKSTOCK_ADMIN_USER="ops", TICKSTOCK_ADMIN_PASSWORD="serve test pw")
    # Output to files, not pipes: a grandchild that outlives serve would hold a pipe open.
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w") as err:
        serve = testing.manage("serve", "--no-demo", "--port", str(testing.free_port()), env=env, stdout=out,
                               stderr=err, start_new_session=True)
    try:
        [first] = testing.wait_until(lambda: Bar.objects.count() == 1 and consumer_pids(), timeout=60,
                                     what="serve's bar consumer storing the first bar")
        os.kill(first, signal.SIGKILL)
        restarted = f"consume_bars exited with {-signal.SIGKILL}; starting it again"
        testing.wait_until(lambda: restarted in (tmp_path / "err").read_text(), timeout=10,
                           what="serve noticing the consumer's exit")
        # Published only now: a consumer still blocked in its read when it was killed would have taken it.
        streams.publish_bars(get_redis(), bars.iloc[1:], interval="1m")
        testing.wait_until(lambda: Bar.objects.count() == 2 and consumer_pids() - {first}, timeout=30,
                           what="a consumer started again storing the second bar")
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGKILL)  # whatever serve left running (it started them in its session)
        serve.wait(timeout=10)
    assert (tmp_path / "out").read_text().rstrip().endswith("stopped")
