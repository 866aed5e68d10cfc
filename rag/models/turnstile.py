"""Turns at the local LLM, first come first served, with each waiter's place in the line.

One llama.cpp model answers one request at a time. The requests that will use it (an answer
the LLM writes, a follow-up it rewrites) each take a Ticket; the first ticket in the line holds
the model, the others wait and can tell how many requests are ahead of them (the chat page
shows it). A lock would serialise them too, but in no fixed order and without a place to show.

    with llm_turnstile.join() as ticket:
        while ahead := ticket.ahead():
            show(ahead)
            ticket.wait(timeout=1.0)
        ...use the model...

A ticket leaves the line when its holder is done, and also when its request is given up while
waiting (a closed browser tab closes the chat's generator: leave in a `finally`).
"""

from __future__ import annotations

import threading
from types import TracebackType


class Turnstile:
    """The line of requests for one model: the first ticket holds it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._line: list[Ticket] = []

    def join(self) -> Ticket:
        """A ticket at the end of the line."""
        ticket = Ticket(self)
        with self._changed:
            self._line.append(ticket)
        return ticket

    def try_enter(self) -> Ticket | None:
        """A ticket that holds the model now, or None when anyone holds it or waits for it
        (for work that would rather do without the model than wait: a rewrite by rule)."""
        with self._changed:
            if self._line:
                return None
            ticket = Ticket(self)
            self._line.append(ticket)
            return ticket

    def busy(self) -> bool:
        """Does any request hold the model or wait for it?"""
        with self._changed:
            return bool(self._line)

    def __len__(self) -> int:
        with self._changed:
            return len(self._line)

    def _ahead(self, ticket: Ticket) -> int:
        """Under the condition: requests before `ticket` (0 when it holds the model)."""
        try:
            return self._line.index(ticket)
        except ValueError:
            return 0  # it left: nothing is ahead of it any more

    def _leave(self, ticket: Ticket) -> None:
        with self._changed:
            if ticket in self._line:
                self._line.remove(ticket)
                self._changed.notify_all()


class Ticket:
    """A place in a Turnstile's line."""

    def __init__(self, turnstile: Turnstile) -> None:
        self._turnstile = turnstile

    def ahead(self) -> int:
        """How many requests are ahead of this one (0: it holds the model)."""
        with self._turnstile._changed:
            return self._turnstile._ahead(self)

    def wait(self, timeout: float | None = None) -> int:
        """Wait until the line moves (or `timeout` passes); how many requests are then ahead
        of this one. Returns at once when it holds the model."""
        turnstile = self._turnstile
        with turnstile._changed:
            before = turnstile._ahead(self)
            if before:
                turnstile._changed.wait_for(lambda: turnstile._ahead(self) != before, timeout)
            return turnstile._ahead(self)

    def wait_turn(self, timeout: float | None = None) -> bool:
        """Wait until this ticket holds the model; False when `timeout` passed first."""
        turnstile = self._turnstile
        with turnstile._changed:
            return turnstile._changed.wait_for(lambda: turnstile._ahead(self) == 0, timeout)

    def leave(self) -> None:
        """Give up the place (or the model); the next in line moves up. Idempotent."""
        self._turnstile._leave(self)

    def __enter__(self) -> Ticket:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.leave()
