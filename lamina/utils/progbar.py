"""Progbar: the progress bar `fit`, `evaluate` and `predict` print, as Keras 3 draws it.

    32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 12ms/step - accuracy: 0.8750 - loss: 0.4210

The step count is bold, the done part of the bar green and the rest grey (ANSI
escapes), then the ETA (or the elapsed time once finished), the time per step
and the metric values.
"""

import math
import os
import sys
import time

import numpy as np

from lamina.utils import io_utils

# Module-level so tests can substitute a fake clock.
_clock = time.time

_BAR_CHAR = "━"


def _is_dynamic_display() -> bool:
    """Whether the terminal can redraw a line in place (`\\r`).

    True for a TTY, a Jupyter/IPython kernel and PyCharm's console. Elsewhere
    (a log file, a pipe) every update is written on a new line.
    """
    stdout = sys.stdout
    return (
        (hasattr(stdout, "isatty") and stdout.isatty())
        or "ipykernel" in sys.modules
        or "PYCHARM_HOSTED" in os.environ
    )


def _write(message: str) -> None:
    # stdout, or the "lamina" logger after utils.disable_interactive_logging().
    io_utils.print_msg(message, line_break=False)


def _as_float(value) -> float:
    """A displayable number from a float, int, NumPy value or torch tensor.

    Called only when a line is printed, so tensors reach the host only then.
    """
    if isinstance(value, float):
        return value
    if hasattr(value, "detach"):  # torch tensor
        value = value.detach()
        return float(value if value.ndim == 0 else value.float().mean())
    return float(np.mean(value))


class Progbar:
    """A text progress bar, as `keras.utils.Progbar`.

    Args:
        target: Total number of steps, or `None` if unknown.
        width: Width of the bar in characters. Defaults to 20.
        verbose: 0 (silent), 1 (a bar redrawn as it advances) or 2 (one line
            when finished). Defaults to 1.
        interval: Minimum seconds between two redraws. Defaults to 0.05.
        stateful_metrics: Names of values shown as given. Other values are
            averaged over the steps seen (weighted by the steps each covers).
        stateless_metrics: The opposite: names of values to average; all others
            are shown as given. Pass at most one of the two.
        unit_name: What a step is called in the time per step. Defaults to
            `"step"`.

    Values are Python numbers or 0-d tensors; tensors are read (moved to the
    host) only when a line is printed.

    Example:
    >>> bar = lamina.utils.Progbar(2, verbose=0)
    >>> bar.update(1, [("loss", 0.5)])
    >>> bar.add(1, [("loss", 0.3)])
    """

    def __init__(
        self,
        target,
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics=None,
        stateless_metrics=None,
        unit_name: str = "step",
    ):
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Progbar: Only one of `stateful_metrics` (names shown as given; "
                "the rest are averaged) and `stateless_metrics` (names averaged; "
                "the rest shown as given) can be passed, not both."
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateless_metrics is not None:
            self.stateful_metrics = None
            self.stateless_metrics = set(stateless_metrics)
        else:
            self.stateful_metrics = set(stateful_metrics or ())
            self.stateless_metrics = None
        self._dynamic_display = _is_dynamic_display()
        self._seen_so_far = 0
        self._values = {}  # name -> [sum of value * steps, steps]
        self._values_order = []
        self._start = _clock()
        self._last_update = 0.0
        self._time_after_first_step = None
        self._prev_total_width = 0

    def update(self, current: int, values=None, finalize=None) -> None:
        """Move the bar to step `current` and record `values`.

        Args:
            current: Index of the current step (1-based count of steps done).
            values: List of `(name, value)` pairs for this step.
            finalize: Whether this is the last update. Defaults to
                `current >= target` (never, if the target is unknown).
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        self._record(current, values or (), finalize)
        self._seen_so_far = current

        now = _clock()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            self._draw_summary_line(current, now, time_per_unit)
        self._last_update = now

    def add(self, n: int, values=None) -> None:
        """Advance the bar by `n` steps."""
        self.update(self._seen_so_far + n, values)

    # Recording and averaging

    def _is_averaged(self, name) -> bool:
        if self.stateful_metrics is not None:
            return name not in self.stateful_metrics
        return name in self.stateless_metrics

    def _record(self, current, values, finalize) -> None:
        for name, value in values:
            if name not in self._values_order:
                self._values_order.append(name)
            if self._is_averaged(name) and not finalize:
                # Weight by the number of steps this value covers (at least 1).
                steps = max(current - self._seen_so_far, 1)
                if name in self._values:
                    self._values[name][0] += value * steps
                    self._values[name][1] += steps
                else:
                    self._values[name] = [value * steps, steps]
            else:
                # Keras: a final value, or a stateful one, is shown as given.
                self._values[name] = [value, 1]

    def _average(self, name) -> float:
        total, count = self._values[name]
        return _as_float(total) / max(1, count)

    # Drawing

    def _draw(self, current, now, time_per_unit, finalize) -> None:
        message = (
            "\b" * self._prev_total_width + "\r" if self._dynamic_display else "\n"
        )
        hidden = 0  # characters of ANSI escapes, which take no room on screen
        if self.target is not None and self.target > 0:
            digits = int(math.log10(self.target)) + 1
            bar = f"\x1b[1m{int(current):{digits}d}/{int(self.target)}\x1b[0m "
            hidden += 8
            done = int(self.width * current / self.target)
            if done > 0:
                bar += f"\x1b[32m{_BAR_CHAR * done}\x1b[0m"
                hidden += 9
            bar += f"\x1b[37m{_BAR_CHAR * (self.width - done)}\x1b[0m"
            hidden += 9
        else:
            bar = f"{int(current):7d}/Unknown"
        if self.target is not None and self.target > 0 and not finalize:
            info = (
                f" \x1b[1m{_format_eta(time_per_unit * (self.target - current))}\x1b[0m"
            )
        else:
            info = f" \x1b[1m{now - self._start:.0f}s\x1b[0m"
        hidden += 8
        info += _format_time(time_per_unit, self.unit_name)
        for name in self._values_order:
            avg = self._average(name)
            info += (
                f" - {name}: {avg:.4f}" if abs(avg) > 1e-3 else f" - {name}: {avg:.4e}"
            )
        message += bar + info

        total_width = len(bar) + len(info) - hidden
        if self._prev_total_width > total_width:
            message += " " * (self._prev_total_width - total_width)
        if finalize:
            message += "\n"
        _write(message)
        self._prev_total_width = total_width

    def _draw_summary_line(self, current, now, time_per_unit) -> None:
        digits = int(math.log10(self.target)) + 1
        info = f"{int(current):{digits}d}/{int(self.target)}"
        info += f" - {now - self._start:.0f}s"
        info += f" -{_format_time(time_per_unit, self.unit_name)}"
        for name in self._values_order:
            avg = self._average(name)
            # Keras compares the signed value here (not abs, as verbose=1 does).
            info += f" - {name}: {avg:.4f}" if avg > 1e-3 else f" - {name}: {avg:.4e}"
        _write(info + "\n")

    def _estimate_step_duration(self, current, now) -> float:
        """Seconds per step; the first step (often slow: compilation, warm-up)
        is left out once later steps exist."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit


def _format_eta(eta: float) -> str:
    if eta > 3600:
        return f"{int(eta // 3600)}:{int((eta % 3600) // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


def _format_time(time_per_unit: float, unit_name: str) -> str:
    """` 12ms/step`: seconds at or above 1 s (and for 0), else ms, else us."""
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1e3:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1e6:.0f}us/{unit_name}"
