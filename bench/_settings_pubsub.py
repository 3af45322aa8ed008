"""The project's settings with channels-redis' pub/sub layer, for `bench/ws_fanout.py --layer pubsub`: a group
message is one Redis PUBLISH that each ASGI process fans out to its own consumers in memory, instead of one
sorted-set entry per consumer popped one at a time."""

from tickstock_ops.settings import *  # noqa: F403

CHANNEL_LAYERS["default"]["BACKEND"] = "channels_redis.pubsub.RedisPubSubChannelLayer"  # noqa: F405
