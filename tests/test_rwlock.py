"""The readers-writer lock, with real threads.

Waits that must *succeed* use long timeouts (a failure means a deadlock, not a
slow machine); waits that must *fail* use short ones, and only prove that the
lock was unavailable at that moment, which is never flaky.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from ragstore.local.rwlock import RWLock

LONG = 20.0  # seconds: only reached when something deadlocked
SHORT = 0.2  # seconds: how long a blocked acquire is given to (wrongly) succeed


def in_thread(target: Callable[[], object]) -> tuple[threading.Thread, list[object]]:
    """Start ``target`` in a daemon thread; its return value (or exception) lands in the list."""
    out: list[object] = []

    def run() -> None:
        try:
            out.append(target())
        except BaseException as exc:  # handed to the test thread
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, out


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + LONG
    while not condition():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.001)


def try_read(lock: RWLock, timeout: float) -> bool:
    """Whether the read lock could be taken within ``timeout`` (given back at once)."""
    if not lock.acquire_read(timeout=timeout):
        return False
    lock.release_read()
    return True


def try_write(lock: RWLock, timeout: float) -> bool:
    """Whether the write lock could be taken within ``timeout`` (given back at once)."""
    if not lock.acquire_write(timeout=timeout):
        return False
    lock.release_write()
    return True


def finished(thread: threading.Thread, out: list[object]) -> object:
    thread.join(LONG)
    assert not thread.is_alive(), "thread deadlocked"
    assert len(out) == 1
    return out[0]


def test_readers_hold_the_lock_together() -> None:
    lock = RWLock()
    n = 6
    meet = threading.Barrier(n, timeout=LONG)  # passes only while all n hold the read lock at once
    leave = threading.Barrier(n, timeout=LONG)  # nobody leaves before everybody counted

    def reader() -> int:
        with lock.read():
            meet.wait()
            count = lock.readers
            leave.wait()
        return count

    threads = [in_thread(reader) for _ in range(n)]
    assert [finished(*t) for t in threads] == [n] * n
    assert (lock.readers, lock.writing) == (0, False)


def test_writer_excludes_readers_and_writers() -> None:
    lock = RWLock()
    with lock.write():
        assert lock.writing
        assert finished(*in_thread(lambda: try_read(lock, SHORT))) is False
        assert finished(*in_thread(lambda: try_write(lock, SHORT))) is False
        blocked_reader = in_thread(lambda: try_read(lock, LONG))
        blocked_reader[0].join(SHORT)
        assert blocked_reader[0].is_alive()  # still waiting for the writer
    assert finished(*blocked_reader) is True  # let in once the writer left
    assert (lock.readers, lock.writing) == (0, False)


def test_readers_exclude_a_writer_until_the_last_one_leaves() -> None:
    lock = RWLock()
    release = [threading.Event() for _ in range(2)]
    held = threading.Barrier(3, timeout=LONG)

    def reader(i: int) -> None:
        with lock.read():
            held.wait()
            assert release[i].wait(LONG)

    readers = [in_thread(lambda i=i: reader(i)) for i in range(2)]
    held.wait()
    writer = in_thread(lambda: try_write(lock, LONG))
    wait_until(lambda: lock.waiting_writers == 1)
    release[0].set()
    finished(*readers[0])
    writer[0].join(SHORT)
    assert writer[0].is_alive() and not lock.writing  # one reader is still inside
    release[1].set()
    finished(*readers[1])
    assert finished(*writer) is True


def test_waiting_writer_blocks_new_readers() -> None:
    lock = RWLock()
    assert lock.acquire_read()
    writer_in = threading.Event()
    writer_out = threading.Event()

    def writer() -> None:
        with lock.write():
            writer_in.set()
            assert writer_out.wait(LONG)

    w = in_thread(writer)
    wait_until(lambda: lock.waiting_writers == 1)
    # A new reader must queue behind the waiting writer (writer preference) ...
    assert finished(*in_thread(lambda: try_read(lock, SHORT))) is False
    late_reader = in_thread(lambda: try_read(lock, LONG))
    # ... while the reader already inside may re-enter (queueing it would deadlock).
    assert lock.acquire_read(timeout=0) is True
    lock.release_read()
    lock.release_read()
    assert writer_in.wait(LONG)
    late_reader[0].join(SHORT)
    assert late_reader[0].is_alive()  # the writer holds the lock now
    writer_out.set()
    finished(*w)
    assert finished(*late_reader) is True


def test_writer_that_times_out_lets_queued_readers_in() -> None:
    lock = RWLock()
    assert lock.acquire_read()
    writer = in_thread(lambda: try_write(lock, 1.0))
    wait_until(lambda: lock.waiting_writers == 1)
    queued = in_thread(lambda: try_read(lock, LONG))  # behind the writer
    assert finished(*writer) is False  # we never let go of the read lock
    assert finished(*queued) is True  # and the queued reader was woken when the writer gave up
    assert lock.waiting_writers == 0
    lock.release_read()


def test_a_writer_is_not_starved_by_overlapping_readers() -> None:
    lock = RWLock()
    stop = threading.Event()

    def reader() -> int:
        rounds = 0
        while not stop.is_set():
            with lock.read(timeout=LONG):
                rounds += 1
                time.sleep(0.001)  # readers overlap all the time: a reader-preferring lock would starve writers
        return rounds

    readers = [in_thread(reader) for _ in range(4)]
    wait_until(lambda: lock.readers > 0)
    try:
        for _ in range(20):
            with lock.write(timeout=LONG):
                assert lock.readers == 0
    finally:
        stop.set()
    assert all(isinstance(finished(*r), int) for r in readers)


def test_reentry_rules() -> None:
    lock = RWLock()
    with lock.write(), lock.write(), lock.read():  # the writer may re-enter, also as a reader
        assert lock.writing and lock.readers == 1
    assert (lock.writing, lock.readers) == (False, 0)
    with lock.read(), pytest.raises(RuntimeError, match="upgrade"):
        lock.acquire_write(timeout=LONG)  # would wait for itself
    with pytest.raises(RuntimeError):
        lock.release_read()
    with pytest.raises(RuntimeError):
        lock.release_write()
    # A writer that took the read lock inside keeps it after leaving: a downgrade.
    lock.acquire_write()
    lock.acquire_read()
    lock.release_write()
    assert (lock.writing, lock.readers) == (False, 1)
    assert finished(*in_thread(lambda: try_write(lock, SHORT))) is False
    lock.release_read()
    assert finished(*in_thread(lambda: try_write(lock, SHORT))) is True


def test_context_managers_raise_on_timeout() -> None:
    lock = RWLock()
    with lock.write():
        errors = [finished(*in_thread(lambda f=f: f(timeout=0.01).__enter__())) for f in (lock.read, lock.write)]
    assert all(isinstance(e, TimeoutError) for e in errors)


def test_randomized_stress_never_deadlocks_or_breaks_exclusion() -> None:
    lock = RWLock()
    guard = threading.Lock()
    state = {"readers": 0, "writers": 0, "max_readers": 0, "reads": 0, "writes": 0, "timeouts": 0}
    deadline = time.monotonic() + 2.0

    def enter(kind: str) -> None:
        with guard:
            if kind == "write":
                assert state["readers"] == 0 and state["writers"] == 0, dict(state)
                state["writers"] += 1
                state["writes"] += 1
            else:
                assert state["writers"] == 0, dict(state)
                state["readers"] += 1
                state["reads"] += 1
                state["max_readers"] = max(state["max_readers"], state["readers"])

    def leave(kind: str) -> None:
        with guard:
            state["writers" if kind == "write" else "readers"] -= 1

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            kind = "write" if rng.random() < 0.2 else "read"
            # Mostly patient acquires (they must succeed: LONG means deadlock), some impatient ones.
            timeout = LONG if rng.random() < 0.8 else rng.choice([0.0, 0.0005, 0.002])
            acquire = lock.acquire_write if kind == "write" else lock.acquire_read
            release = lock.release_write if kind == "write" else lock.release_read
            if not acquire(timeout=timeout):
                assert timeout < LONG, "a patient acquire timed out: deadlock"
                with guard:
                    state["timeouts"] += 1
                continue
            try:
                enter(kind)
                if rng.random() < 0.3:  # re-entry of the same kind (and read inside write)
                    with lock.read(timeout=LONG) if kind == "read" else lock.write(timeout=LONG):
                        pass
                    if kind == "write":
                        with lock.read(timeout=LONG):
                            pass
                if rng.random() < 0.5:
                    time.sleep(rng.random() / 2000)
                leave(kind)
            finally:
                release()

    threads = [in_thread(lambda s=s: worker(s)) for s in range(8)]
    results = [finished(*t) for t in threads]
    assert results == [None] * 8, [r for r in results if r is not None]
    assert (lock.readers, lock.writing, lock.waiting_writers) == (0, False, 0)
    assert state["reads"] > 100 and state["writes"] > 20, state
    assert state["max_readers"] >= 2, state  # readers did share the lock
