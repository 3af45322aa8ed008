"""process_queue refuses numbers that would make a worker misbehave, with argparse's one-line error."""

import pytest
from django.core.management import CommandError, call_command


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--lease", "-1", "'-1' must be above 0"),
    ("--lease", "0", "'0' must be above 0"),
    ("--lease", "nan", "'nan' must be above 0"),
    ("--batch", "0", "'0' must be at least 1"),
    ("--batch", "many", "'many' is not a number"),
    ("--max-jobs", "0", "'0' must be at least 1"),
    ("--poll", "-0.5", "'-0.5' must be at least 0"),
    ("--max-seconds", "inf", "'inf' must be above 0"),
    ("--db-wait", "-3", "'-3' must be at least 0"),
])
def test_process_queue_refuses_impossible_numbers(flag, value, message):
    with pytest.raises(CommandError, match=f"argument {flag}: {message}"):
        call_command("process_queue", "--once", flag, value)
