"""How far the consumer group is behind on each bar stream, for /healthz, /metrics, the dashboard (through the
core's lag registry) and the lag alert (docs/live-bars.md)."""

import redis

from monitors.quality import conf
from monitors.quality.live import streams
from tickstock_ops import alerts
from tickstock_ops.health import ConsumerLag
from tickstock_ops.redis_client import get_redis

# Entries after an id, counted inside Redis: the fallback where XINFO GROUPS has no `lag` (Redis < 7, or after
# deletions that make Redis's own count unknown).
COUNT_AFTER = """
local n, last = 0, ARGV[1]
while true do
  local batch = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1000)
  if #batch == 0 then return n end
  n = n + #batch
  last = batch[#batch][1]
end
"""


def probe() -> dict[str, ConsumerLag]:
    """The configured group's lag on each configured bar stream that exists, by "stream/group"."""
    client = get_redis()
    group = conf.get("QUALITY_LIVE_GROUP")
    seconds, micros = client.time()
    now_ms = seconds * 1000 + micros // 1000
    lags = {}
    for interval in conf.get("QUALITY_LIVE_INTERVALS"):
        stream = streams.stream_key(interval)
        lag = stream_lag(client, stream, group, now_ms)
        if lag is not None:
            lags[f"{stream}/{group}"] = lag
    return lags


def stream_lag(client: redis.Redis, stream: str, group: str, now_ms: int) -> ConsumerLag | None:
    """None when the stream does not exist. A stream nobody has read yet is behind by all of its entries."""
    limit = conf.get("QUALITY_LIVE_MAX_LAG_SECONDS")
    try:
        info = next((g for g in client.xinfo_groups(stream) if _text(g["name"]) == group), None)
    except redis.ResponseError:  # no such stream
        return None
    if info is None:
        first = client.xrange(stream, count=1)
        oldest = _age(_ms(first[0][0]), now_ms) if first else 0.0
        return ConsumerLag(client.xlen(stream), oldest, limit, f"no consumer group {group} yet" if first else "")
    last = _text(info["last-delivered-id"])
    undelivered = info.get("lag")
    if undelivered is None:
        undelivered = client.eval(COUNT_AFTER, 1, stream, last)
    candidates = []
    if info["pending"]:
        candidates.append(_ms(client.xpending(stream, group)["min"]))
    following = client.xrange(stream, min=f"({last}", count=1) if undelivered else []
    if following:
        candidates.append(_ms(following[0][0]))
    oldest = _age(min(candidates), now_ms) if candidates else 0.0
    return ConsumerLag(int(info["pending"]) + int(undelivered), oldest, limit, _trimmed_unread(client, stream, last))


def _trimmed_unread(client: redis.Redis, stream: str, last_delivered: str) -> str:
    """Redis 7 remembers the newest entry it trimmed or deleted: newer than what the group has read means entries
    were lost to MAXLEN before anyone stored them (older Redis cannot tell)."""
    deleted = client.xinfo_stream(stream).get("max-deleted-entry-id")
    if deleted is None or _key(_text(deleted)) <= _key(last_delivered):
        return ""
    return f"entries up to {_text(deleted)} were trimmed before this group read them (raise MAXLEN)"


def check_alert() -> dict[str, str]:
    """Fire an alert for each stream whose lag is over the limit (or that lost entries), resolve it otherwise."""
    outcome = {}
    for name, lag in probe().items():
        stream = name.split("/")[0]
        fingerprint = f"quality:consumer_lag:{stream}"
        if lag.ok:
            outcome[name] = "resolved" if alerts.resolve(fingerprint) else "ok"
            continue
        title = (f"{stream}: {lag.problem}" if lag.problem else
                 f"{stream}: bars are {lag.oldest_seconds:.0f} s behind ({lag.behind} entries not stored)")
        alerts.fire(fingerprint, source="quality", title=title,
                    severity="critical" if lag.problem else "warning",
                    labels={"metric": "consumer_lag", "stream": stream, "group": name.split("/")[1]})
        outcome[name] = "firing"
    return outcome


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _key(entry_id: str) -> tuple[int, int]:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


def _ms(entry_id: bytes | str) -> int:
    return _key(_text(entry_id))[0]


def _age(ms: int, now_ms: int) -> float:
    return round(max(0.0, (now_ms - ms) / 1000), 3)
