"""Interactive logging: whether progress bars and summaries write to stdout
(the default) or to the `logging` module (logger `"lamina"`), as Keras switches
between stdout and absl logging."""

import logging
import sys

_logger = logging.getLogger("lamina")
_interactive = True


def enable_interactive_logging() -> None:
    """Write progress bars and summaries to stdout (the default), for shells
    and notebooks."""
    global _interactive
    _interactive = True


def disable_interactive_logging() -> None:
    """Send progress bars and summaries to the `"lamina"` logger at INFO level
    instead of stdout, for jobs whose output goes to log files."""
    global _interactive
    _interactive = False


def is_interactive_logging_enabled() -> bool:
    """True when output goes to stdout, False when it goes to `logging`.

    Example:
    >>> lamina.utils.is_interactive_logging_enabled()
    True
    """
    return _interactive


def print_msg(message, line_break: bool = True) -> None:
    """Write `message` to stdout, or log it when interactive logging is off.

    Args:
        message: Text (anything `str()` accepts).
        line_break: Whether to end the line on stdout. Defaults to `True`.
            Logged messages are whole records either way.
    """
    message = str(message)
    if not _interactive:
        _logger.info(message)
        return
    if line_break:
        message += "\n"
    try:
        sys.stdout.write(message)
    except UnicodeEncodeError:
        # A console that cannot show the progress bar's "━" gets "=" instead.
        message = message.replace("━", "=")
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdout.write(message.encode(encoding, errors="ignore").decode(encoding))
    sys.stdout.flush()
