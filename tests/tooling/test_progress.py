"""The rich progress bar: it/s excluding compile time, ETA, one summary line per log step off a terminal."""

import io

from brainsim.progress import Progress, format_seconds


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_rate_and_eta_exclude_the_compiling_first_step():
    clock, out = Clock(), io.StringIO()
    bar = Progress(100, "pbwm", stream=out, clock=clock)
    clock.t = 5.0  # the first step compiles for 5 s
    bar.first_step_done(1)
    clock.t = 6.0  # then 10 steps per second
    bar.update(11, "loss 0.5")
    assert abs(bar.rate(11) - 10.0) < 1e-9
    assert abs(bar.eta(11) - 8.9) < 1e-9
    line = out.getvalue().strip()
    assert line == "pbwm: step 11/100 (11%) · 10.0 it/s · ETA 9 s · compile 5.0 s · loss 0.5"


def test_one_summary_line_per_update_when_not_a_terminal():
    clock, out = Clock(), io.StringIO()
    bar = Progress(30, "m", stream=out, clock=clock, start=10)
    clock.t = 1.0
    bar.first_step_done(11)
    for step in (20, 30):
        clock.t += 1.0
        bar.update(step)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[-1].startswith("m: step 30/30 (100%)") and "\r" not in out.getvalue()


def test_a_terminal_gets_a_rich_bar():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    clock, out = Clock(), Tty()
    bar = Progress(10, "tty", stream=out, clock=clock)
    clock.t = 1.0
    bar.first_step_done(1)
    clock.t = 2.0
    bar.update(5, "loss 1")
    bar.close()
    text = out.getvalue()
    assert "tty" in text and "5/10" in text and "it/s" in text and "\x1b[" in text  # ANSI: a live bar


def test_disabled_progress_prints_nothing():
    out = io.StringIO()
    bar = Progress(10, stream=out, enabled=False)
    bar.first_step_done(1)
    bar.update(5)
    bar.close()
    assert out.getvalue() == ""


def test_format_seconds():
    assert [format_seconds(s) for s in (None, 4.4, 125, 3720)] == ["?", "4 s", "2 min 05 s", "1 h 02 min"]
