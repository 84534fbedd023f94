"""Failed-login throttle: pure logic with an injectable clock (no Streamlit here).

After ``max_failures`` failed logins for one key (a browser session, a client address), further
attempts are refused for ``base_delay`` seconds; every failure after that doubles the lock, up to
``max_delay``. A key is forgotten ``forget_after`` seconds after its last failure, and on a
successful login. The dashboard's glue (:mod:`app_pages._ui`) keeps one throttle per session and
one per process keyed by client address.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

__all__ = ["LoginThrottle"]


@dataclass
class _Entry:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    """Count failed logins per key and lock a key out with a growing delay.

    Parameters
    ----------
    max_failures : int
        Failures allowed before the first lock (default 5).
    base_delay : float
        Seconds of the first lock (default 30).
    max_delay : float
        Longest lock in seconds (default 300: five minutes).
    forget_after : float
        Seconds after the last failure when a key starts again from zero (default 900).
    max_keys : int
        Keys remembered at most; the least recently failed is dropped first (bounded memory).
    clock : callable
        Returns the time in seconds (default :func:`time.monotonic`); inject a fake in tests.

    Examples
    --------
    >>> now = [0.0]
    >>> t = LoginThrottle(clock=lambda: now[0])
    >>> [t.failure("s") for _ in range(5)][-1]
    30.0
    >>> t.wait("s")
    30.0
    >>> now[0] = 31.0
    >>> t.wait("s")
    0.0
    """

    def __init__(
        self,
        max_failures: int = 5,
        base_delay: float = 30.0,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ):
        if max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {max_failures}")
        if not 0 < base_delay <= max_delay:
            raise ValueError(
                f"need 0 < base_delay <= max_delay, got base_delay={base_delay}, "
                f"max_delay={max_delay}"
            )
        if forget_after < max_delay:
            raise ValueError(
                f"forget_after ({forget_after}) must be at least max_delay ({max_delay})"
            )
        self.max_failures = int(max_failures)
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.forget_after = float(forget_after)
        self.max_keys = int(max_keys)
        self.clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _entry(self, key: Hashable, now: float) -> _Entry | None:
        e = self._entries.get(key)
        if e is not None and now - e.last_failure >= self.forget_after:
            del self._entries[key]
            return None
        return e

    def wait(self, key: Hashable) -> float:
        """Seconds until ``key`` may try again (0.0 when it may try now)."""
        with self._lock:
            now = self.clock()
            e = self._entry(key, now)
            return 0.0 if e is None else max(0.0, e.locked_until - now)

    def failures(self, key: Hashable) -> int:
        """Failed attempts counted for ``key``."""
        with self._lock:
            e = self._entry(key, self.clock())
            return 0 if e is None else e.failures

    def failure(self, key: Hashable) -> float:
        """Record a failed login for ``key``; return the seconds it is now locked for."""
        with self._lock:
            now = self.clock()
            e = self._entry(key, now) or _Entry()
            e.failures += 1
            e.last_failure = now
            over = e.failures - self.max_failures
            if over >= 0:
                delay = min(self.base_delay * 2.0 ** min(over, 32), self.max_delay)
                e.locked_until = now + delay
            self._entries[key] = e
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_keys:
                self._entries.popitem(last=False)
            return max(0.0, e.locked_until - now)

    def success(self, key: Hashable) -> None:
        """Forget ``key``'s failures (a correct password)."""
        with self._lock:
            self._entries.pop(key, None)
