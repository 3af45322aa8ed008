import io
import os
import pty

from tickstock_ops.progress import terminal_progress


def drawn_on_a_terminal(label: str, steps: list[tuple[int, int, str]], quiet: bool = False) -> str:
    primary, secondary = pty.openpty()
    os.set_blocking(primary, False)
    with os.fdopen(secondary, "w") as terminal:
        with terminal_progress(label, quiet=quiet, stream=terminal) as progress:
            for done, total, stage in steps:
                progress(done, total, stage)
        terminal.flush()
        screen = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except BlockingIOError:
                break
            screen += chunk
    os.close(primary)
    return screen.decode(errors="replace")


def test_a_terminal_sees_the_bar_move_to_its_total():
    screen = drawn_on_a_terminal("import bars.csv", [(0, 1000, "reading"), (400, 1000, "reading"),
                                                     (1000, 1000, "writing")])
    assert "import bars.csv · writing" in screen and "1000/1000" in screen


def test_nothing_is_drawn_when_quiet_or_not_on_a_terminal():
    assert drawn_on_a_terminal("import bars.csv", [(1, 2, ""), (2, 2, "")], quiet=True) == ""
    pipe = io.StringIO()
    with terminal_progress("import bars.csv", stream=pipe) as progress:
        progress(1, 2)
        progress(2, 2)
    assert pipe.getvalue() == ""
