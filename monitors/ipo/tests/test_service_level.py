"""The IPO detection delay sample: one per new deal, from the first fetch showing it to the detected commit."""

import time
from datetime import date

import pytest

from monitors.ipo import scan
from tickstock_ops.models import SloSample

pytestmark = pytest.mark.django_db


def test_each_new_deal_gives_one_detection_delay_sample_and_a_rescan_none(fake):
    started = time.monotonic()
    scan.scan(date(2026, 11, 24), ["polygon", "sec", "nasdaq", "news"])
    elapsed = time.monotonic() - started

    delays = list(SloSample.objects.filter(name="ipo_detection_delay").values_list("seconds", flat=True))
    assert len(delays) == 6  # the six deals the scan detects
    assert all(0 <= delay <= elapsed for delay in delays)

    scan.scan(date(2026, 11, 24), ["polygon", "sec", "nasdaq", "news"])
    assert SloSample.objects.filter(name="ipo_detection_delay").count() == 6
