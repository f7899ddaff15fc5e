"""Per-link priority queues: the most urgent class always goes first.

This module owns the ordering rule of one link's send queue: one FIFO per priority class,
the head of the highest non-empty class is sent next, so a FLASH message queued behind any
amount of ROUTINE traffic is the very next thing on the link (pre-emption happens at frame
boundaries, so it also goes between the fragments of a lower-class message). It must not
pace, route or encode anything.

Example
-------
>>> q = PriorityQueues()
>>> q.push("routine-1", 3); q.push("routine-2", 3); q.push("flash", 0)
>>> q.pop(), q.pop(), len(q)
('flash', 'routine-1', 1)
"""

from __future__ import annotations

import collections
from typing import Generic, Iterator, TypeVar

from emcomm.priority import PRIORITY_COUNT

T = TypeVar("T")


class PriorityQueues(Generic[T]):
    """One FIFO per priority class (0 = most urgent)."""

    def __init__(self) -> None:
        self._q: list[collections.deque[T]] = [collections.deque() for _ in range(PRIORITY_COUNT)]
        self._n = 0

    def push(self, item: T, priority: int, *, front: bool = False) -> None:
        """Queue ``item`` in its class; ``front=True`` puts it ahead of its class (a resend)."""
        q = self._q[priority]
        if front:
            q.appendleft(item)
        else:
            q.append(item)
        self._n += 1

    def head_priority(self) -> int | None:
        """The class of the item ``pop`` would return, or None when empty."""
        if self._n:
            for p, q in enumerate(self._q):
                if q:
                    return p
        return None

    def peek(self) -> T | None:
        """The item ``pop`` would return, without removing it."""
        p = self.head_priority()
        return None if p is None else self._q[p][0]

    def pop(self) -> T:
        """Remove and return the head of the most urgent non-empty class."""
        for q in self._q:
            if q:
                self._n -= 1
                return q.popleft()
        raise IndexError("pop from empty PriorityQueues")

    def remove(self, item: T) -> bool:
        """Remove one item wherever it is (O(n)); False when absent."""
        for q in self._q:
            try:
                q.remove(item)
            except ValueError:
                continue
            self._n -= 1
            return True
        return False

    def drain(self) -> list[T]:
        """Remove and return every item, most urgent first."""
        out = [item for q in self._q for item in q]
        for q in self._q:
            q.clear()
        self._n = 0
        return out

    def counts(self) -> list[int]:
        """Items queued per class, FLASH first."""
        return [len(q) for q in self._q]

    def __len__(self) -> int:
        return self._n

    def __iter__(self) -> Iterator[T]:
        for q in self._q:
            yield from q
