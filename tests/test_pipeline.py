"""``ragstore.pipeline``: stages in threads joined by bounded queues (ingest's plan, embed and write)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator

import pytest

from ragstore.pipeline import Pipeline


def pipeline_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("test-pipeline")]


def jitter(n: int) -> int:
    time.sleep(random.uniform(0, 0.002))  # stages run at uneven speeds; order must survive it
    return n


def test_items_flow_in_order_through_every_step() -> None:
    out: list[int] = []
    Pipeline(name="test-pipeline").run(range(200), jitter, lambda n: jitter(n) * 2, out.append)
    assert out == [n * 2 for n in range(200)]
    assert pipeline_threads() == []


def test_a_fast_source_runs_at_most_a_queue_ahead_of_a_blocked_step() -> None:
    produced: list[int] = []
    release = threading.Event()

    def source() -> Iterator[int]:
        for n in range(100):
            produced.append(n)
            yield n

    pipeline = Pipeline(depth=2, name="test-pipeline")
    runner = threading.Thread(target=pipeline.run, args=(source(), lambda n: release.wait()))
    runner.start()
    time.sleep(0.3)
    ahead = len(produced)
    release.set()
    runner.join()
    # One item in the step's hands, two in the queue, one waiting to be put.
    assert ahead == 2 + 2, ahead
    assert len(produced) == 100


class StageError(Exception):
    pass


@pytest.mark.parametrize("failing", ["source", "first step", "last step"])
def test_an_error_in_any_stage_propagates_as_itself_and_stops_the_others(failing: str) -> None:
    closed: list[str] = []
    reached: list[int] = []

    def source() -> Iterator[int]:
        try:
            for n in range(10_000):
                if failing == "source" and n == 5:
                    raise StageError(f"{failing} failed")
                yield n
        finally:
            closed.append(threading.current_thread().name)  # a stopped source is closed in its own thread

    def step(n: int, name: str) -> int:
        if failing == name and n == 5:
            raise StageError(f"{failing} failed")
        return n

    with pytest.raises(StageError, match=f"{failing} failed") as raised:
        Pipeline(name="test-pipeline").run(source(), lambda n: step(n, "first step"), lambda n: reached.append(step(n, "last step")))
    assert raised.traceback[-1].name in ("source", "step")  # the stage's own frames are kept
    assert pipeline_threads() == []
    assert closed == ["test-pipeline-0"]
    assert reached == list(range(len(reached))) and len(reached) <= 5


def test_on_tick_runs_in_the_callers_thread_and_its_error_stops_the_run() -> None:
    callers: set[str] = set()

    def on_tick() -> None:
        callers.add(threading.current_thread().name)
        raise KeyboardInterrupt

    pipeline = Pipeline(name="test-pipeline", on_tick=on_tick)
    taken: list[int] = []

    def step(n: int) -> None:
        taken.append(n)
        pipeline.tick()
        time.sleep(0.01)

    with pytest.raises(KeyboardInterrupt):
        pipeline.run(range(1000), step)
    assert callers == {threading.current_thread().name}
    assert pipeline_threads() == [] and len(taken) < 1000


def test_wait_gives_up_when_the_run_stops() -> None:
    never = threading.Event()
    pipeline = Pipeline(name="test-pipeline")

    def source() -> Iterator[int]:
        yield 1
        pipeline.wait(never)  # would block forever; the step's error stops the run
        yield 2

    def fail(n: int) -> None:
        raise StageError("stop")

    with pytest.raises(StageError):
        pipeline.run(source(), fail)
    assert pipeline_threads() == []
    with pytest.raises(RuntimeError, match="runs once"):
        pipeline.run([])
