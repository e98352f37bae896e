"""Stopping cleanly: Ctrl-C (SIGINT), SIGTERM (what cron and systemd send) and deadlines.

A run must never be lost to a stop request, so each is turned into something the use case can
handle:
- in the I/O stages (an event loop is running), SIGINT and SIGTERM cancel the main task, which
  hands what it observed to its `on_interrupt` callbacks; `run_stoppable` returns a `Stopped`;
- in synchronous code that may be cut short (start-up, the analysis), SIGTERM raises
  `Terminated`, a `KeyboardInterrupt`, so it stops exactly where Ctrl-C would
  (`install_stop_handlers` for the whole process, `signals_raise` for one phase);
- while results are assembled and written, a first request is held until the writing is done
  and only a second one stops the process (`signals_held`), so a save is never torn and a run
  that was observed is always printed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import signal
from collections.abc import Callable, Coroutine, Iterator
from types import FrameType
from typing import Any, TypeVar

T = TypeVar("T")
_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived: stop as Ctrl-C would."""

    def __str__(self) -> str:
        return "interrupted by SIGTERM"


class StopCause(enum.StrEnum):
    INTERRUPT = "interrupted"  # SIGINT, Ctrl-C
    TERMINATE = "interrupted by SIGTERM"
    DEADLINE = "deadline"


@dataclasses.dataclass(frozen=True)
class Stopped:
    """Why a use case was cut short."""

    cause: StopCause
    deadline: float | None = None

    def __str__(self) -> str:
        if self.cause is StopCause.DEADLINE:
            return f"deadline of {self.deadline:g} s"
        return str(self.cause)

    def during(self, stage: str) -> str:
        """The stop reason a run records: 'interrupted during send', 'deadline of 60 s passed
        during collect'."""
        if self.cause is StopCause.DEADLINE:
            return f"{self} passed during {stage}"
        return f"{self} during {stage}"

    @classmethod
    def of(cls, interrupt: KeyboardInterrupt) -> Stopped:
        cause = StopCause.TERMINATE if isinstance(interrupt, Terminated) else StopCause.INTERRUPT
        return cls(cause)


_requested: int | None = None  # the signal of the last stop request in this process


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = signum
    raise _interrupt(signum)


def install_stop_handlers() -> None:
    """From now on SIGINT raises `KeyboardInterrupt` and SIGTERM `Terminated` (in the main
    thread) instead of killing; a signal that whoever started us ignores stays ignored."""
    with contextlib.suppress(ValueError):  # not the main thread: leave the defaults
        for sig in _SIGNALS:
            if signal.getsignal(sig) != signal.SIG_IGN:
                signal.signal(sig, _raise_stop)


def stop_requested() -> bool:
    """Whether SIGINT or SIGTERM came. CPython 3.11 ends a process whose KeyboardInterrupt
    passed through string `exec` (a dataclass being defined while the modules load) by killing
    itself with SIGINT at exit, even when the interrupt was handled: the caller then ends the
    process itself, with the exit code it chose."""
    return _requested is not None


def raise_if_requested() -> None:
    """Raise the stop request that came in code Python swallows exceptions from (a weakref
    callback of the import machinery prints 'Exception ignored' and goes on); call it at the
    safe points of the start-up."""
    if _requested is not None:
        raise _interrupt(_requested)


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """Within the block SIGINT raises `KeyboardInterrupt` and SIGTERM `Terminated`; a request
    that a surrounding `signals_held` noted before the block raises at once. Inside a running
    event loop the loop's own handlers stay in charge."""
    if _loop_running():
        yield
        return
    with _handlers(_raise_stop, _raise_stop):
        pending = _take_pending()
        if pending is not None:
            raise _interrupt(pending)
        yield


@contextlib.contextmanager
def signals_held() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM within the block: the first is noted (in the list it yields)
    and honoured by the next stage that may stop (`run_stoppable`, `signals_raise`); a second
    one stops at once (as Ctrl-C or `Terminated`)."""
    noted: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        if noted:
            _raise_stop(signum, frame)
        noted.append(signum)

    _pending.append(noted)
    try:
        with _handlers(hold, hold):
            yield noted
    finally:
        _pending.remove(noted)


def _loop_running() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


_pending: list[list[int]] = []  # what each open `signals_held` block noted, innermost last


def _take_pending() -> int | None:
    """A stop request noted while held and not honoured yet (it is honoured now)."""
    if _pending and _pending[-1]:
        return _pending[-1].pop()
    return None


def _interrupt(signum: int) -> KeyboardInterrupt:
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def run_stoppable(main: Coroutine[Any, Any, T], *, deadline: float | None) -> T | Stopped:
    """Run `main` in a new event loop; SIGINT, SIGTERM or `deadline` seconds cancel it.

    The cancellation reaches every task of `main` first (their `on_interrupt` callbacks keep
    what they observed), then the cause comes back as a `Stopped`."""
    import asyncio

    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}

    async def guarded() -> T | Stopped:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        caught: list[StopCause] = []

        def on_signal(cause: StopCause) -> None:
            global _requested
            _requested = signal.SIGTERM if cause is StopCause.TERMINATE else signal.SIGINT
            caught.append(cause)
            task.cancel()

        installed = []
        for sig, cause in zip(_SIGNALS, (StopCause.INTERRUPT, StopCause.TERMINATE), strict=True):
            if previous[sig] == signal.SIG_IGN:
                continue
            with contextlib.suppress(ValueError, RuntimeError, NotImplementedError):
                loop.add_signal_handler(sig, on_signal, cause)
                installed.append(sig)
        timer = asyncio.timeout(deadline)
        try:
            pending = _take_pending()
            if pending is not None:  # asked to stop before the stage began
                main.close()
                return Stopped.of(_interrupt(pending))
            async with timer:
                return await main
        except TimeoutError:
            if not timer.expired():
                raise
            return Stopped(StopCause.DEADLINE, deadline)
        except asyncio.CancelledError:
            if not caught:
                raise
            task.uncancel()
            return Stopped(caught[0])
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)

    try:
        return asyncio.run(guarded())
    except KeyboardInterrupt as exc:  # a signal before the handlers were in place
        return Stopped.of(exc)
    finally:
        _restore(previous)


_Handler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


@contextlib.contextmanager
def _handlers(on_int: _Handler, on_term: _Handler) -> Iterator[None]:
    previous = {sig: signal.getsignal(sig) for sig in _SIGNALS}
    try:
        for sig, handler in ((signal.SIGINT, on_int), (signal.SIGTERM, on_term)):
            if previous[sig] != signal.SIG_IGN:  # ignored by whoever started us: it stays so
                signal.signal(sig, handler)
    except ValueError:  # not the main thread: signals are not ours to handle here
        yield
        return
    try:
        yield
    finally:
        _restore(previous)


def _restore(previous: dict[signal.Signals, _Handler]) -> None:
    for sig, handler in previous.items():
        with contextlib.suppress(ValueError, TypeError):
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
