"""PostgreSQL's binary COPY format, as the bar writer sends it and the scan reads it: a fixed header, rows of
numpy structured arrays (big-endian, each field preceded by its length) and a trailer."""

import io

import numpy as np

PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in Unix microseconds: PostgreSQL's binary timestamp origin
COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
COPY_TRAILER = b"\xff\xff"


def framed(rows: np.ndarray) -> io.BytesIO:
    """A binary COPY stream of `rows` (a structured array laid out as COPY rows)."""
    return io.BytesIO(COPY_HEADER + rows.tobytes() + COPY_TRAILER)


def rows_of(buffer: io.BytesIO) -> memoryview:
    """The row bytes of a binary COPY stream, without its header and trailer."""
    return buffer.getbuffer()[len(COPY_HEADER):-len(COPY_TRAILER)]


def prefixed(prefixes: list[bytes], which: np.ndarray, fixed: np.ndarray) -> io.BytesIO:
    """A binary COPY stream of rows whose leading fields vary in length (text): each row is `prefixes[which[i]]`
    (its field count and its first fields, encoded) followed by `fixed[i]` (a structured array of the remaining
    fields). Rows come grouped by the length of their prefix, each group in the given order: a COPY may list rows
    in any order, and each group is one structured array rather than a Python loop per row."""
    lengths = np.array([len(prefix) for prefix in prefixes], dtype=np.int64)
    parts = [COPY_HEADER]
    for length in np.unique(lengths[which]):
        mine = np.flatnonzero(lengths == length)
        table = np.frombuffer(b"".join(prefixes[i] for i in mine), dtype=f"V{length}")
        position = np.zeros(len(prefixes), dtype=np.int64)
        position[mine] = np.arange(len(mine))
        rows = np.flatnonzero(lengths[which] == length)
        group = np.empty(len(rows), dtype=[("prefix", f"V{length}"), ("fixed", fixed.dtype)])
        group["prefix"] = table[position[which[rows]]]
        group["fixed"] = fixed[rows]
        parts.append(group.tobytes())
    parts.append(COPY_TRAILER)
    return io.BytesIO(b"".join(parts))
