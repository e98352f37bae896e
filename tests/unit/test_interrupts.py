"""Stop requests: held while results are written, honoured by the next stage that may stop,
a second one at once; SIGTERM stops where Ctrl-C would."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from probe.pipeline.interrupts import (
    StopCause,
    Stopped,
    Terminated,
    run_stoppable,
    signals_held,
    signals_raise,
)


def test_a_held_request_is_noted_and_a_second_one_stops_at_once() -> None:
    with signals_held() as noted:
        os.kill(os.getpid(), signal.SIGTERM)
        assert noted == [signal.SIGTERM]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)


def test_the_next_stage_honours_what_was_held() -> None:
    with signals_held() as noted:
        os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(Terminated), signals_raise():
            pytest.fail("the stage should not begin")
        assert noted == []  # honoured once
        with signals_raise():
            pass


def test_sigterm_raises_where_ctrl_c_would() -> None:
    with pytest.raises(Terminated) as caught, signals_raise():
        os.kill(os.getpid(), signal.SIGTERM)
    assert isinstance(caught.value, KeyboardInterrupt) and str(caught.value)


def test_an_io_stage_is_cancelled_by_a_signal_and_says_which() -> None:
    observed: list[str] = []

    async def stage() -> str:
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            observed.append("kept what it saw")
            raise
        return "finished"

    stopped = run_stoppable(stage(), deadline=60)
    assert stopped == Stopped(StopCause.TERMINATE) and observed == ["kept what it saw"]
    assert stopped.during("send") == "interrupted by SIGTERM during send"


def test_a_deadline_stops_it_too_and_a_held_request_stops_it_before_it_begins() -> None:
    stopped = run_stoppable(asyncio.sleep(30), deadline=0.05)
    assert isinstance(stopped, Stopped)
    assert stopped.during("collect") == "deadline of 0.05 s passed during collect"
    assert run_stoppable(asyncio.sleep(0, "done"), deadline=5) == "done"
    with signals_held():
        os.kill(os.getpid(), signal.SIGINT)
        assert run_stoppable(asyncio.sleep(30), deadline=60) == Stopped(StopCause.INTERRUPT)
