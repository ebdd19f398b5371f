import re

import pytest
import torch

from lamina.utils import Progbar
from lamina.utils import progbar as progbar_module

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class FakeClock:
    def __init__(self, start=100.0):
        self.now = start

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(progbar_module, "_clock", fake)
    return fake


def visible(text):
    """What a terminal shows for the last redraw: no escapes, no backspaces."""
    return ANSI.sub("", text).replace("\b", "").split("\r")[-1]


def test_final_line_looks_like_keras(clock, capsys):
    bar = Progbar(32, stateful_metrics=["accuracy", "loss"])
    bar._dynamic_display = True
    clock.now = 100.2
    bar.update(1, [("accuracy", 0.5), ("loss", 0.9)])
    clock.now = 101.2
    bar.update(32, [("accuracy", 0.875), ("loss", 0.421)])
    out = capsys.readouterr().out
    assert out.endswith("\n")
    assert visible(out).rstrip("\n").rstrip() == (
        "32/32 " + "━" * 20 + " 1s 32ms/step - accuracy: 0.8750 - loss: 0.4210"
    )
    # Bold count, green done part, grey rest.
    assert "\x1b[1m32/32\x1b[0m \x1b[32m" + "━" * 20 + "\x1b[0m" in out


def test_in_progress_line_shows_eta_and_partial_bar(clock, capsys):
    bar = Progbar(10)
    bar._dynamic_display = True
    clock.now = 101.0
    bar.update(1)
    clock.now = 103.0
    bar.update(5, [("loss", 0.25)])
    line = visible(capsys.readouterr().out)
    # 2 s for steps 2..5 -> 500 ms/step; 5 steps left -> ETA 2s.
    assert line.rstrip() == " 5/10 " + "━" * 20 + " 2s 500ms/step - loss: 0.2500"


def test_redraw_goes_back_over_the_previous_line(clock, capsys):
    bar = Progbar(4)
    bar._dynamic_display = True
    clock.now = 101.0
    bar.update(1)
    first_width = bar._prev_total_width
    clock.now = 102.0
    bar.update(2)
    out = capsys.readouterr().out
    assert out.count("\r") == 2
    assert "\b" * first_width + "\r" in out


def test_without_a_terminal_each_update_is_a_new_line(clock, capsys):
    bar = Progbar(3)
    bar._dynamic_display = False
    for step in (1, 2, 3):
        clock.now += 1.0
        bar.update(step)
    out = capsys.readouterr().out
    assert "\r" not in out and "\b" not in out
    assert out.count("\n") == 4  # one before each line, one after the last


def test_unknown_target_shows_count_and_elapsed_time(clock, capsys):
    bar = Progbar(None)
    bar._dynamic_display = True
    clock.now = 101.5
    bar.update(3)
    assert visible(capsys.readouterr().out).rstrip() == "      3/Unknown 2s 500ms/step"


def test_values_are_averaged_over_steps_unless_stateful(clock, capsys):
    bar = Progbar(4, stateful_metrics=["acc"], verbose=2)
    bar.update(1, [("loss", 1.0), ("acc", 0.1)])
    bar.update(3, [("loss", 0.5), ("acc", 0.2)])  # covers 2 steps
    assert bar._average("loss") == pytest.approx((1.0 + 0.5 * 2) / 3)
    assert bar._average("acc") == pytest.approx(0.2)


def test_stateless_metrics_average_only_the_named_values(clock):
    bar = Progbar(4, stateless_metrics=["loss"], verbose=0)
    bar.update(1, [("loss", 1.0), ("acc", 0.1)])
    bar.update(2, [("loss", 0.0), ("acc", 0.3)])
    assert bar._average("loss") == pytest.approx(0.5)
    assert bar._average("acc") == pytest.approx(0.3)
    with pytest.raises(ValueError, match="not both"):
        Progbar(1, stateful_metrics=["a"], stateless_metrics=["b"])


def test_small_values_use_scientific_notation(clock, capsys):
    bar = Progbar(1, stateful_metrics=["loss", "lr"])
    bar._dynamic_display = True
    clock.now = 101.0
    bar.update(1, [("loss", 0.0005), ("lr", -0.5)])
    line = visible(capsys.readouterr().out)
    assert "loss: 5.0000e-04" in line and "lr: -0.5000" in line


def test_verbose_2_prints_one_line_at_the_end(clock, capsys):
    bar = Progbar(32, verbose=2, stateful_metrics=["loss"])
    clock.now = 100.2
    bar.update(1, [("loss", 0.9)])
    assert capsys.readouterr().out == ""
    clock.now = 101.2
    bar.update(32, [("loss", 0.421)])
    assert capsys.readouterr().out == "32/32 - 1s - 32ms/step - loss: 0.4210\n"


def test_updates_within_the_interval_are_not_drawn(clock, capsys):
    bar = Progbar(100, interval=1.0)
    bar._dynamic_display = True
    clock.now = 100.5
    bar.update(1)
    clock.now = 100.9
    bar.update(2)  # 0.4 s after the last draw
    assert capsys.readouterr().out.count("\r") == 1


def test_add_advances_and_tensor_values_are_read_only_when_printing(clock, capsys):
    bar = Progbar(2, unit_name="batch", stateful_metrics=["loss"])
    bar._dynamic_display = True
    clock.now = 100.5
    bar.add(1, [("loss", torch.tensor(0.5))])
    clock.now = 101.5
    bar.add(1, [("loss", torch.tensor(0.25))])
    line = visible(capsys.readouterr().out)
    assert "1000ms/batch" not in line
    assert line.rstrip().endswith("1s/batch - loss: 0.2500")


@pytest.mark.parametrize(
    "seconds, expected",
    [(0, " 0s/step"), (2.4, " 2s/step"), (0.012, " 12ms/step"), (5e-5, " 50us/step")],
)
def test_time_per_step_units(seconds, expected):
    assert progbar_module._format_time(seconds, "step") == expected


@pytest.mark.parametrize(
    "eta, expected", [(30.7, "30s"), (125, "2:05"), (3725, "1:02:05")]
)
def test_eta_format(eta, expected):
    assert progbar_module._format_eta(eta) == expected
