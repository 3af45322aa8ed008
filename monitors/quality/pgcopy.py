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
