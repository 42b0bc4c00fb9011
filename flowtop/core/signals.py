"""SIGTERM, SIGHUP and SIGINT: stop cleanly, and leave for sure.

The signal reaches a :func:`signal.signal` handler, which runs in the main thread as
soon as the interpreter gets control, even while the event loop is busy (a filter that
never ends, a blocking call): asyncio's ``loop.add_signal_handler`` would only run once
the loop is free again.  The handler arms a watchdog thread that ends the process after
a deadline, then asks for the clean stop (finish the recording, log out) through
``on_stop``, which must only schedule work (``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any, Final

STOP_SIGNALS: Final = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP", "SIGINT") if hasattr(signal, name)
)
# After a stop signal, the process is ended this many seconds later whatever happens.
SIGNAL_EXIT_DEADLINE: Final = 5.0
# The watchdog's last courtesy (restoring the terminal) may take this long.
_LAST_WORDS_TIMEOUT: Final = 0.5


def signal_exit_code(number: int) -> int:
    """The shell's code for "ended by signal ``number``": 130 for SIGINT, 143 for SIGTERM."""
    return 128 + number


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


class StopSignals:
    """Routes the stop signals to ``on_stop`` (once) and arms the exit watchdog.

    ``exit_code`` gives the watchdog's exit status for the signal received;
    ``last_words`` (optional) runs in the watchdog thread just before the forced exit,
    for example to take a terminal out of raw mode.
    """

    def __init__(
        self,
        on_stop: Callable[[int], None],
        *,
        exit_code: Callable[[int], int] = signal_exit_code,
        deadline: float = SIGNAL_EXIT_DEADLINE,
        last_words: Callable[[], None] | None = None,
    ) -> None:
        self._on_stop = on_stop
        self._exit_code = exit_code
        self._deadline = deadline
        self._last_words = last_words
        self._previous: dict[int, Any] = {}
        self.received: int | None = None
        self.watchdog: threading.Timer | None = None

    def install(self) -> bool:
        """Take over the stop signals; False when that is impossible (not the main thread)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        for number in STOP_SIGNALS:
            try:
                self._previous[number] = signal.signal(number, self._handle)
            except (ValueError, OSError):
                pass
        return bool(self._previous)

    def restore(self) -> None:
        """Give the signals back to whoever had them (the watchdog stays armed)."""
        previous, self._previous = self._previous, {}
        for number, handler in previous.items():
            try:
                signal.signal(number, handler if handler is not None else signal.SIG_DFL)
            except (ValueError, OSError):
                pass

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.trigger(number)

    def trigger(self, number: int) -> None:
        """What a stop signal does; later signals are ignored, the watchdog is armed."""
        if self.received is not None:
            return
        self.received = number
        self.arm(self._exit_code(number))
        self._on_stop(number)

    def arm(self, code: int) -> None:
        """End the process with ``code`` after the deadline, unless it ended before."""
        if self.watchdog is not None:
            return
        self.watchdog = threading.Timer(self._deadline, self._force_exit, args=(code,))
        self.watchdog.name = "flowtop-exit-watchdog"
        self.watchdog.daemon = True
        self.watchdog.start()

    def _force_exit(self, code: int) -> None:
        if self._last_words is not None:
            helper = threading.Thread(target=self._say_last_words, daemon=True)
            helper.start()
            helper.join(_LAST_WORDS_TIMEOUT)
        os._exit(code)

    def _say_last_words(self) -> None:
        assert self._last_words is not None
        try:
            self._last_words()
        except Exception:
            pass  # the process ends anyway
