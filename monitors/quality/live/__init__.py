"""Live bars: TickStock's Redis Streams of bars (`tickstock.bars.<interval>`) consumed into the bar table through
the loader's validation and its one writer (docs/live-bars.md).

- `streams.py`: stream names, the entry format, publishing bars (the demo feed, tests and benchmarks);
- `consumer.py`: the consumer-group loop (read, claim what a dead consumer left, store, acknowledge);
- `lag.py`: how far a group is behind, for /healthz, /metrics and the lag alert.
"""
