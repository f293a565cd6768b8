"""Per-model circuit breaker: stop calling a model that keeps failing, probe it after a cooldown.

::

    CLOSED ──(N failures in a row, or failure rate ≥ r over the last W calls)──▶ OPEN
    OPEN ──(cooldown elapsed; checked by allow())──▶ HALF_OPEN
    HALF_OPEN ──(a probe succeeds)──▶ CLOSED
    HALF_OPEN ──(a probe fails)──▶ OPEN

Time comes from an injected clock, so tests are exact. The breaker is meant for one event loop
(no locks): every method is synchronous and does not yield.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable

from abgate.gateway.config import BreakerSettings


class CircuitState(enum.IntEnum):
    """Breaker state; the value is what the ``abgate_circuit_state`` gauge shows."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


TransitionCallback = Callable[[str, CircuitState, CircuitState, str], None]
"""Called as ``(model, old_state, new_state, reason)`` on every state change."""


class CircuitBreaker:
    """Decides whether calls to one model may go ahead.

    Use: ``if breaker.allow(): call, then record_success() or record_failure()``; when the call is
    abandoned without a verdict (client went away, cancelled), call ``release()`` so a half-open
    probe slot is not lost.
    """

    def __init__(
        self,
        settings: BreakerSettings,
        clock: Callable[[], float],
        *,
        model: str = "",
        on_transition: TransitionCallback | None = None,
    ) -> None:
        self.settings = settings
        self.model = model
        self._clock = clock
        self._on_transition = on_transition
        self._state = CircuitState.CLOSED
        self._outcomes: deque[bool] = deque(maxlen=settings.window)  # True = failure
        self._failures_in_window = 0
        self._consecutive = 0
        self._opened_at = 0.0
        self._probes_in_flight = 0

    @property
    def state(self) -> CircuitState:
        """Current state; an open breaker turns half-open on ``allow()`` after the cooldown."""
        return self._state

    @property
    def retry_after(self) -> float:
        """Seconds until an open breaker will admit a probe; 0 when not open."""
        if self._state is not CircuitState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.settings.cooldown_s - self._clock())

    def allow(self) -> bool:
        """May a call go ahead now? In half-open state a True reserves one probe slot."""
        if self._state is CircuitState.CLOSED:
            return True
        if self._state is CircuitState.OPEN:
            if self._clock() - self._opened_at < self.settings.cooldown_s:
                return False
            self._transition(CircuitState.HALF_OPEN, "cooldown elapsed")
        if self._probes_in_flight >= self.settings.half_open_max_calls:
            return False
        self._probes_in_flight += 1
        return True

    def record_success(self) -> None:
        """The call succeeded. A successful probe closes the breaker."""
        if self._state is CircuitState.CLOSED:
            self._consecutive = 0
            self._push(failure=False)
            # A success can still complete a window whose failure rate is over the threshold.
            self._check_rate()
        elif self._state is CircuitState.HALF_OPEN:
            self._transition(CircuitState.CLOSED, "probe succeeded")
        # OPEN: a call admitted before the breaker opened finished late; it changes nothing.

    def record_failure(self) -> None:
        """The call failed (error, timeout, 5xx). May open the breaker."""
        if self._state is CircuitState.HALF_OPEN:
            self._open("probe failed")
        elif self._state is CircuitState.CLOSED:
            self._consecutive += 1
            self._push(failure=True)
            if self._consecutive >= self.settings.consecutive_failures:
                self._open(f"{self._consecutive} consecutive failures")
            else:
                self._check_rate()

    def release(self) -> None:
        """The call ended without a verdict: give back its half-open probe slot, if it held one."""
        if self._state is CircuitState.HALF_OPEN and self._probes_in_flight > 0:
            self._probes_in_flight -= 1

    def reset(self, reason: str = "reset") -> None:
        """Force the breaker closed with a clean history (operator action)."""
        if self._state is not CircuitState.CLOSED:
            self._transition(CircuitState.CLOSED, reason)
        self._clear()

    def _push(self, *, failure: bool) -> None:
        if len(self._outcomes) == self._outcomes.maxlen and self._outcomes[0]:
            self._failures_in_window -= 1  # the oldest failure is about to slide out
        self._outcomes.append(failure)
        self._failures_in_window += failure

    def _check_rate(self) -> None:
        calls = len(self._outcomes)
        if calls >= self.settings.min_calls:
            rate = self._failures_in_window / calls
            if rate >= self.settings.failure_rate:
                self._open(f"failure rate {rate:.0%} over the last {calls} calls")

    def _open(self, reason: str) -> None:
        self._opened_at = self._clock()
        self._transition(CircuitState.OPEN, reason)

    def _clear(self) -> None:
        self._outcomes.clear()
        self._failures_in_window = 0
        self._consecutive = 0
        self._probes_in_flight = 0

    def _transition(self, new: CircuitState, reason: str) -> None:
        old, self._state = self._state, new
        self._clear()  # every state starts from a clean history and no probes in flight
        if self._on_transition is not None:
            self._on_transition(self.model, old, new, reason)
