"""backfill_ipos refuses windows that cannot exist instead of failing with a traceback."""

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize(("args", "message"), [
    (["--days", "100000"], "--days 100000: must be 1 to 3660"),
    (["--days", "0"], "--days 0: must be 1 to 3660"),
    (["--days", "10", "--end", "0001-01-05"], "--days 10 before --end 0001-01-05 starts before the year 1"),
])
def test_backfill_refuses_impossible_windows(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("backfill_ipos", *args)
