"""Requests from the local API, relayed to the engine in the page and answered from it.

One request runs at a time; at most `MAX_WAITING` more wait their turn, and the rest are told
to come back later (429). A request travels to the page as an `api-request` event; the page
streams the answer back through the bridge (`feed`), and `api-cancel` tells it to stop when the
client goes away.

The API server and the app's server run in different threads, so everything here is guarded by
locks and thread-safe queues.
"""

from __future__ import annotations

import itertools
import queue
import threading
from dataclasses import dataclass, field
from typing import Any

from desktop_llm.events import EventBus

MAX_WAITING = 4
PAGE_TIMEOUT = 30.0  # seconds the page may take to start answering


class RelayBusy(Exception):
    """The queue is full."""


class WindowClosed(Exception):
    """No window is open to run the model."""


@dataclass
class Job:
    id: int
    request: dict[str, Any]
    chunks: queue.Queue = field(default_factory=queue.Queue)  # ("piece", str) | ("done", info)
    started: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    cancelled: bool = False


class EngineRelay:
    def __init__(self, events: EventBus):
        self.events = events
        self._ids = itertools.count(1)
        self._waiting: queue.Queue[Job] = queue.Queue(maxsize=MAX_WAITING)
        self._jobs: dict[int, Job] = {}
        self._lock = threading.Lock()
        self._running: Job | None = None
        threading.Thread(target=self._dispatch, name="api-relay", daemon=True).start()

    @property
    def busy(self) -> bool:
        return self._running is not None

    def submit(self, request: dict[str, Any]) -> Job:
        if self.events.subscribers == 0:
            raise WindowClosed
        job = Job(next(self._ids), request)
        with self._lock:
            self._jobs[job.id] = job
        try:
            self._waiting.put_nowait(job)
        except queue.Full:
            with self._lock:
                del self._jobs[job.id]
            raise RelayBusy from None
        return job

    def cancel(self, job: Job) -> None:
        job.cancelled = True
        if job.started.is_set() and not job.finished.is_set():
            self.events.publish_to_newest("api-cancel", {"id": job.id})

    def feed(self, job_id: int, pieces: list[str], done: dict[str, Any] | None) -> bool:
        """From the page: more of an answer, and at the end how it finished."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            return False
        job.started.set()
        for piece in pieces:
            job.chunks.put(("piece", piece))
        if done is not None:
            job.chunks.put(("done", done))
            job.finished.set()
        return True

    def _dispatch(self) -> None:
        while True:
            job = self._waiting.get()
            if job.cancelled:
                self._forget(job)
                continue
            self._running = job
            if self.events.subscribers == 0:
                job.chunks.put(("done", {"error": "closed"}))
            else:
                self.events.publish_to_newest("api-request", {"id": job.id, **job.request})
                if not job.started.wait(PAGE_TIMEOUT) and not job.finished.is_set():
                    job.chunks.put(("done", {"error": "The app's window did not answer."}))
                while not job.finished.wait(1.0):
                    if self.events.subscribers == 0:  # the window closed mid-answer
                        job.chunks.put(("done", {"error": "closed"}))
                        break
            self._running = None
            self._forget(job)

    def _forget(self, job: Job) -> None:
        with self._lock:
            self._jobs.pop(job.id, None)
