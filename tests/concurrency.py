"""Run the same work in several threads released at one moment, each on its own database
connection (for tests of row locks and races on PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.db import connection

THREAD_TIMEOUT = 120


def at_once(target: Callable[[int], object], count: int) -> list[object]:
    """`target(i)` for i in range(count), started together; returns each result or the
    exception it raised, in order."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=THREAD_TIMEOUT)
            results[index] = target(index)
        except Exception as exc:  # reported to the calling test
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(THREAD_TIMEOUT)
    assert not any(thread.is_alive() for thread in threads)
    return results
