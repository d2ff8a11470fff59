"""A step of a test that mostly waits (for a timeout of the command it runs, for a broker to come
back) started early in a thread, so that the tests before it run meanwhile."""

from __future__ import annotations

import threading
from typing import Callable, Generic, Optional, TypeVar

T = TypeVar("T")


class Background(Generic[T]):
    """`fn()` in a daemon thread from now on; `result()` waits for it and returns what it returned,
    or raises what it raised."""

    def __init__(self, fn: Callable[[], T], name: str):
        self._value: Optional[T] = None
        self._error: Optional[BaseException] = None

        def run() -> None:
            try:
                self._value = fn()
            except BaseException as exc:  # noqa: BLE001 - raised again by result(), in the test's thread
                self._error = exc

        self._thread = threading.Thread(target=run, name=name, daemon=True)
        self._thread.start()

    def result(self, timeout_s: float) -> T:
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            raise AssertionError(f"{self._thread.name} did not finish within {timeout_s:.0f} s")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]
