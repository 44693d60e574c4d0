"""Events pushed from Python to the page over server-sent events."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import Any


class EventBus:
    """Fan-out of events to every connected page. `publish` may be called from any thread."""

    def __init__(self, queue_size: int = 256):
        # In the order pages connected (a dict keeps it): the newest is the last.
        self._subscribers: dict[tuple[asyncio.AbstractEventLoop, asyncio.Queue], None] = {}
        self._lock = threading.Lock()
        self._queue_size = queue_size

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def publish(self, name: str, data: dict[str, Any]) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            loop.call_soon_threadsafe(_put_dropping_oldest, queue, (name, data))

    def publish_to_newest(self, name: str, data: dict[str, Any]) -> None:
        """To one page only, the one that connected last: work that exactly one page must do
        (answering a local API request), however many windows share the session."""
        with self._lock:
            newest = next(reversed(self._subscribers), None)
        if newest is not None:
            loop, queue = newest
            loop.call_soon_threadsafe(_put_dropping_oldest, queue, (name, data))

    async def subscribe(self) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        queue: asyncio.Queue = asyncio.Queue(self._queue_size)
        key = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers[key] = None
        try:
            while True:
                yield await queue.get()
        finally:
            with self._lock:
                self._subscribers.pop(key, None)


def _put_dropping_oldest(queue: asyncio.Queue, item: Any) -> None:
    # A page that stops reading must not make Python hold events forever.
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(item)
