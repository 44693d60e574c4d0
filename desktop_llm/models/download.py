"""Verified, resumable model downloads from the hub, through huggingface_hub.

huggingface_hub lists the repository (its commit and every file's size, git oid and LFS sha256)
and its HTTP session fetches the bytes. What the client does not do, this module does: resume a
file across processes, retry a GET on 429/5xx/a dropped or stalled connection with backoff,
check every file's hash, check free disk space first, and never register a model before all of
it is in place and flushed to the disk.

    <data>/models/.downloads/<model-id>/     while downloading; never listed as a model
    ├── plan.json                            where from, the files with their sizes and hashes,
    │                                        and each finished file's sha256 and identity
    ├── params_shard_0.bin                   finished, verified and fsynced
    └── params_shard_1.bin.part              in progress; resumed with a Range request
    <data>/models/.downloads/.locks/<model-id>.lock   held while this process downloads it

One process at a time downloads a model (the lock); a second one is told so in one sentence.
Every attempt lists the repository again from the current endpoint: finished files are kept
if their hash still matches that listing (a file whose size, mtime or inode changed since it
was recorded is hashed again first), the rest is fetched. When every file is verified,
model.json is written and the folder is renamed to `<data>/models/<model-id>/` in one step.
`cancel()` deletes the folder; `stop()` (window closed, Ctrl-C, SIGTERM) and a kill leave it for
the next attempt.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import HfApi, get_session, hf_hub_url
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import build_hf_headers

from desktop_llm.constants import hub_endpoint
from desktop_llm.models.catalog import CatalogEntry, model_lib_url
from desktop_llm.models.store import (
    DownloadBusy,
    ModelEntry,
    ModelStore,
    fsync,
    human_size,
    mlc_problems,
    storage_error,
    write_json_atomically,
)

log = logging.getLogger(__name__)

CHUNK = 4 << 20  # bytes per read when hashing a file
# Files fetched in parallel: enough to fill a fast line, no more than the cores can hash and
# write (on 2 cores, 4 at a time was slower than 2: measured in bench/bench_models.py).
WORKERS = max(2, min(4, os.cpu_count() or 2))
RETRIES = 4  # further attempts after a 429, a 5xx or a dropped connection; reset by progress
CONNECT_TIMEOUT = 10.0  # seconds to open a connection
STALL_TIMEOUT = 30.0  # seconds without a byte before a transfer counts as stalled
STOP_GRACE = 1.5  # seconds a stopped download waits for its transfers to let go
BACKOFF = 0.5  # seconds before the first retry; doubles each time
MAX_RETRY_AFTER = 30.0  # the longest Retry-After we honour
DISK_MARGIN = 64 << 20  # left free on the disk after a download
PROGRESS_INTERVAL = 0.2  # seconds between progress reports
WASM_MAGIC = b"\0asm"


class DownloadError(Exception):
    """A download failed; the message is one sentence for the user."""


class AlreadyInstalled(DownloadError):
    """The model is in the store (maybe put there by another process meanwhile)."""


class Cancelled(Exception):
    """The download was cancelled (files deleted) or stopped (files kept for a resume)."""


@dataclass
class PlannedFile:
    path: str
    url: str
    size: int | None  # None: not known before the GET (a library whose host did not say)
    sha256: str = ""  # LFS files: the hub's sha256 (its linked etag)
    git_oid: str = ""  # small files kept in git: the blob's sha1
    library: bool = False  # the WebLLM model library, fetched from its own host


@dataclass
class Progress:
    model_id: str
    state: str  # "downloading", "verifying", "done", "failed", "cancelled"
    done: int = 0
    total: int = 0
    speed: float = 0.0  # bytes per second over the last few seconds
    eta: float | None = None  # seconds left
    files_done: int = 0
    files_total: int = 0
    error: str = ""
    note: str = ""  # "stalled, retrying" while a silent connection is being replaced

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Counter:
    """Bytes that are on disk, shared by the worker threads; `done` never goes down."""

    done: int = 0
    files_done: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, count: int) -> None:
        with self.lock:
            self.done += count


class Download:
    """One model's download; `run()` blocks and returns the registered model."""

    def __init__(
        self,
        store: ModelStore,
        entry: CatalogEntry,
        on_progress: Callable[[Progress], None] | None = None,
        endpoint: str | None = None,
        workers: int = WORKERS,
        backoff: float = BACKOFF,
        stall_timeout: float | None = None,  # default STALL_TIMEOUT
    ):
        self.store = store
        self.entry = entry
        self.on_progress = on_progress or (lambda progress: None)
        self.api = HfApi(endpoint=endpoint or hub_endpoint())
        self.endpoint = self.api.endpoint
        self.workers = workers
        self.backoff = backoff
        self.timeout = httpx2.Timeout(stall_timeout or STALL_TIMEOUT, connect=CONNECT_TIMEOUT)
        self.folder = store.partial_dir(entry.id)
        self._stop = threading.Event()
        self._discard = False
        self._counter = _Counter()
        self._total = 0
        self._files_total = 0
        self._note = ""
        self._plan_lock = threading.Lock()
        self._plan: list[PlannedFile] = []
        self._finished: dict[str, dict[str, Any]] = {}  # path -> hashes and identity

    def cancel(self) -> None:
        """Stop and delete what was downloaded."""
        self._discard = True
        self._stop.set()

    def stop(self) -> None:
        """Stop within STOP_GRACE seconds, keeping the files for the next attempt to resume."""
        self._stop.set()

    def run(self) -> ModelEntry:
        if self.store.get(self.entry.id) is not None:
            raise AlreadyInstalled(f"{self.entry.name} is already installed.")
        try:
            with self.store.downloading(self.entry.id):
                return self._run_locked()
        except DownloadBusy:
            error = DownloadError(
                f"{self.entry.name} is being downloaded by another Desktop LLM window or "
                "process; it will appear in the model list when that download finishes."
            )
            self._report("failed", str(error))
            raise error from None
        except OSError as exc:  # the lock could not be made: the store is not writable
            raise self._failed(DownloadError(storage_error(exc, self.store.root))) from exc

    def _run_locked(self) -> ModelEntry:
        # Another process may have installed it while this one waited to start.
        if self.store.get(self.entry.id) is not None:
            raise AlreadyInstalled(f"{self.entry.name} is already installed.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            plan = self._make_plan()
            self._keep_what_still_matches(plan)
            self._check_disk_space(plan)
            self._fetch_all(plan)
            self._report("verifying")
            model = self._register(plan)
        except Cancelled:
            if self._discard:
                shutil.rmtree(self.folder, ignore_errors=True)
            self._report("cancelled" if self._discard else "stopped")
            raise
        except DownloadError as exc:
            raise self._failed(exc) from None
        except OSError as exc:
            raise self._failed(DownloadError(_disk_error(exc, self.folder))) from exc
        self._report("done")
        return model

    def _failed(self, error: DownloadError) -> DownloadError:
        """Report a failure; a download that got no bytes leaves no resumable stub behind."""
        if self.folder.is_dir() and not _has_data(self.folder):
            shutil.rmtree(self.folder, ignore_errors=True)
        self._report("failed", str(error))
        return error

    # -- the plan: which files, how big, which hashes ----------------------------------------

    def _make_plan(self) -> list[PlannedFile]:
        """The files to fetch, listed now from the current endpoint (never an old listing: the
        hub may have moved, or fixed a file)."""
        # One request, with a timeout of its own (list_repo_tree takes none, and retries a
        # silent server itself): the commit, and every file's size, git oid and LFS sha256.
        info = self._hub(
            lambda: self.api.model_info(
                self.entry.repo,
                revision=self.entry.revision,
                files_metadata=True,
                timeout=self.timeout.read,
            )
        )
        files = [
            PlannedFile(
                path=item.rfilename,
                url=hf_hub_url(
                    self.entry.repo, item.rfilename, revision=info.sha, endpoint=self.endpoint
                ),
                size=item.size,
                sha256=item.lfs.sha256 if item.lfs else "",
                git_oid="" if item.lfs else item.blob_id or "",
            )
            for item in info.siblings or []
            if _wanted(item.rfilename, self.entry.files)
        ]
        missing = [p for p in self.entry.files if not any(_wanted(f.path, (p,)) for f in files)]
        if not files or (self.entry.engine == "wllama" and missing):
            raise DownloadError(
                f"The hub repository {self.entry.repo} does not have "
                f"{', '.join(missing) or 'the files this model needs'}."
            )
        if self.entry.model_lib_url:
            url = model_lib_url(self.entry.model_lib_url)
            name = url.rsplit("/", 1)[1]
            files.append(PlannedFile(name, url, self._announced_size(url), library=True))
        return files

    def _keep_what_still_matches(self, plan: list[PlannedFile]) -> None:
        """Decide, file by file, what an earlier attempt left that this plan can use: a finished
        file whose hash matches the new listing (hashed again unless its recorded identity is
        unchanged), a .part of the same file. Everything else is deleted."""
        saved = _read_json(self.folder / "plan.json")
        old_files = {f.get("path"): f for f in saved.get("files", []) if isinstance(f, dict)}
        old_finished = saved.get("finished", {}) if isinstance(saved.get("finished"), dict) else {}
        for planned in plan:
            target = self.folder / planned.path
            part = target.with_name(target.name + ".part")
            record = old_finished.get(planned.path)
            if target.is_file():
                kept = self._check_finished(planned, target, record)
                if kept is None:
                    log.warning("%s changed since it was downloaded: fetching it again", target)
                    target.unlink()
                else:
                    self._finished[planned.path] = kept
            old = old_files.get(planned.path)
            same_file = (
                isinstance(old, dict)
                and planned.size is not None
                and old.get("size") == planned.size
                and (old.get("sha256") or "") == planned.sha256
                and (old.get("git_oid") or "") == planned.git_oid
            )
            if part.is_file() and (target.is_file() or not same_file):
                part.unlink()
        self._plan = plan
        self._save_plan()

    def _check_finished(
        self, planned: PlannedFile, path: Path, record: Any
    ) -> dict[str, Any] | None:
        identity = _identity(path)
        if isinstance(record, dict) and all(record.get(k) == v for k, v in identity.items()):
            hashes = {"sha256": record.get("sha256", ""), "git": record.get("git", "")}
        else:
            hashes = _Hashes.of_file(path, planned).digest()
        expected_sha256 = planned.sha256 or (
            record.get("sha256") if planned.library and isinstance(record, dict) else ""
        )
        if planned.size is not None and identity["size"] != planned.size:
            return None
        if expected_sha256 and hashes["sha256"] != expected_sha256:
            return None
        if planned.git_oid and hashes["git"] != planned.git_oid:
            return None
        if not (expected_sha256 or planned.git_oid):
            return None  # nothing to check it against: fetch it again
        return {**hashes, **identity}

    def _save_plan(self) -> None:
        """plan.json from memory: where from, the files, and what is finished."""
        with self._plan_lock:
            write_json_atomically(
                self.folder / "plan.json",
                {
                    "endpoint": self.endpoint,
                    "repo": self.entry.repo,
                    "files": [asdict(f) for f in self._plan],
                    "finished": self._finished,
                },
            )

    def _hub(self, call: Callable[[], Any]) -> Any:
        """A metadata call with the same retries as a file (huggingface_hub does not retry it)."""
        for attempt in range(RETRIES + 1):
            self._check_cancel()
            try:
                return call()
            except GatedRepoError:  # before its base class, RepositoryNotFoundError
                raise DownloadError(self._gated()) from None
            except (RepositoryNotFoundError, RevisionNotFoundError):
                raise DownloadError(
                    f"The model {self.entry.repo} was not found on the hub ({self.endpoint}); "
                    "if it is private, log in with `hf auth login`."
                ) from None
            except OfflineModeIsEnabled:
                raise DownloadError("Downloads are off: HF_HUB_OFFLINE is set.") from None
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if not _retryable(status) or attempt == RETRIES:
                    raise DownloadError(_status_error(status, self.entry.repo)) from None
                self._sleep(attempt, exc.response)
            except httpx2.TimeoutException:
                if attempt == RETRIES:
                    raise DownloadError(
                        f"The model hub at {self.endpoint} did not answer within "
                        f"{self.timeout.read:.0f} s, {RETRIES + 1} times; try again later."
                    ) from None
                self._sleep(attempt, None)
            except httpx2.TransportError:
                if attempt == RETRIES:
                    raise DownloadError(self._unreachable()) from None
                self._sleep(attempt, None)
        raise AssertionError("unreachable")

    def _gated(self) -> str:
        return (
            f"This model needs you to accept its licence at {self.endpoint}/{self.entry.repo} "
            "and log in with `hf auth login`."
        )

    def _announced_size(self, url: str) -> int | None:
        """The size a host gives for a file in answer to HEAD, for progress and the disk check."""
        try:
            response = get_session().head(url, follow_redirects=True, timeout=self.timeout)
        except httpx2.HTTPError:
            return None
        length = response.headers.get("content-length", "")
        return int(length) if response.status_code == 200 and length.isdigit() else None

    def _check_disk_space(self, plan: list[PlannedFile]) -> None:
        needed = sum(max(0, f.size - self._bytes_here(f)) for f in plan if f.size)
        free = shutil.disk_usage(self.folder).free
        if needed + DISK_MARGIN > free:
            raise DownloadError(
                f"{self.entry.name} needs {human_size(needed)} more on the disk, "
                f"but only {human_size(free)} is free at {self.store.root}."
            )

    # -- fetching ------------------------------------------------------------------------------

    def _fetch_all(self, plan: list[PlannedFile]) -> None:
        self._total = sum(f.size or 0 for f in plan)
        self._files_total = len(plan)
        self._counter.add(sum(self._bytes_here(f) for f in plan))
        todo = [f for f in plan if f.path not in self._finished]
        self._counter.files_done = len(plan) - len(todo)
        todo.sort(key=lambda f: -(f.size or 0))  # the biggest first: they set the finish time
        pending = list(todo)
        errors: list[BaseException] = []
        idle = threading.Event()
        lock = threading.Lock()

        def work() -> None:
            # Daemon threads, not a ThreadPoolExecutor: a transfer blocked in a read must not
            # keep a stopped process alive (Python joins pool threads at exit).
            while not self._stop.is_set():
                with lock:
                    if not pending:
                        break
                    planned = pending.pop(0)
                try:
                    self._fetch_verified(planned)
                except BaseException as exc:
                    with lock:
                        errors.append(exc)
                    self._stop.set()  # the other files stop at their next chunk, kept
            with lock:
                running.discard(threading.current_thread())
                if not running:
                    idle.set()

        threads = [
            threading.Thread(target=work, name=f"download-{n}", daemon=True)
            for n in range(min(self.workers, len(todo)))
        ]
        running = set(threads)
        if not threads:
            idle.set()
        stop_reporting = threading.Event()
        reporter = threading.Thread(target=self._report_until, args=(stop_reporting,), daemon=True)
        reporter.start()
        try:
            for thread in threads:
                thread.start()
            while not idle.wait(0.1):  # short waits: a signal handler runs between them
                if self._stop.is_set():  # asked to stop, or a file failed
                    idle.wait(STOP_GRACE)
                    break
        finally:
            stop_reporting.set()
            reporter.join()
        if errors:
            first = next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
            raise first
        if self._stop.is_set():
            raise Cancelled

    def _fetch_verified(self, planned: PlannedFile) -> None:
        """Fetch a file and check its hash; a damaged copy is fetched once more. A verified
        file is flushed to the disk, renamed into place and recorded in plan.json."""
        target = self.folder / planned.path
        part = target.with_name(target.name + ".part")
        target.parent.mkdir(parents=True, exist_ok=True)
        for attempt in (1, 2):
            digest = self._fetch(planned)
            problem = _hash_problem(planned, digest, part)
            if problem is None:
                part.replace(target)
                fsync(target.parent)
                self._finished[planned.path] = {**digest, **_identity(target)}
                with self._counter.lock:
                    self._counter.files_done += 1
                self._save_plan()
                return
            log.warning("%s: %s (attempt %d)", planned.path, problem, attempt)
            part.unlink(missing_ok=True)
        raise DownloadError(
            f"{planned.path} of {self.entry.name} arrived damaged twice ({problem}); "
            "the server's copy may be broken."
        )

    def _fetch(self, planned: PlannedFile) -> dict[str, str]:
        """GET into <file>.part, resuming what is there; returns its sha256 and git sha1,
        computed as the bytes arrive (a resumed file's first part is read back once). The retry
        budget starts again whenever bytes arrive."""
        part = self.folder / (planned.path + ".part")
        # The hub's token goes to the hub only, never to the host of model libraries.
        headers = {} if planned.library else build_hf_headers()
        attempt = 0
        while True:
            self._check_cancel()
            offset = _on_disk(self.folder, planned.path + ".part")
            if planned.size is not None and offset >= planned.size:
                return _Hashes.of_file(part, planned).digest()
            ranged = {**headers, "Range": f"bytes={offset}-"} if offset else headers
            try:
                with get_session().stream(
                    "GET", planned.url, headers=ranged, timeout=self.timeout
                ) as response:
                    if response.status_code == 416 and offset:  # a stale part: start over
                        part.unlink()
                        continue
                    if response.status_code >= 400:
                        if not _retryable(response.status_code) or attempt == RETRIES:
                            raise DownloadError(self._file_error(response, planned.path))
                        self._sleep(attempt, response)
                        attempt += 1
                        continue
                    if response.status_code != 206:
                        offset = 0  # the server sent the whole file
                    hashes = _Hashes.of_file(part, planned) if offset else _Hashes(planned)
                    self._write(response, part, offset, hashes)
                    length = _expected_length(response, offset)
                    if length is not None and part.stat().st_size != length:
                        raise httpx2.RemoteProtocolError("the connection closed early")
                return hashes.digest()
            except httpx2.TransportError as exc:
                self._check_cancel()
                if _on_disk(self.folder, planned.path + ".part") > offset:
                    attempt = 0  # it was moving: a fresh budget
                stalled = isinstance(exc, httpx2.ReadTimeout)
                if attempt == RETRIES:
                    raise DownloadError(self._transport_error(exc, planned.path)) from None
                if stalled:
                    log.warning("%s stalled; retrying from where it stopped", planned.path)
                    self._note = "stalled, retrying"
                    self._report_downloading(0.0)  # at once: the next chunk clears the note
                self._sleep(attempt, None)
                attempt += 1

    def _write(self, response: httpx2.Response, part: Path, offset: int, hashes: _Hashes) -> None:
        with part.open("r+b" if offset else "wb") as out:
            out.seek(offset)
            out.truncate()
            # As the bytes arrive: a chunk size would make httpx hold back up to that much, lost
            # if the connection drops.
            for chunk in response.iter_raw():
                self._check_cancel()
                out.write(chunk)
                hashes.update(chunk)
                self._counter.add(len(chunk))
                self._note = ""
            out.flush()
            os.fsync(out.fileno())

    def _file_error(self, response: httpx2.Response, path: str) -> str:
        status = response.status_code
        if response.headers.get("x-error-code") == "GatedRepo":
            return self._gated()
        if status == 401:
            return (
                f"The hub wants you logged in to download {path} (HTTP 401): log in with "
                "`hf auth login` or set HF_TOKEN."
            )
        if status == 403:
            return (
                f"The hub refused {path} to this login (HTTP 403): the account you are logged "
                f"in with has no access to {self.entry.repo}."
            )
        return _status_error(status, path, file=True)

    def _transport_error(self, exc: httpx2.TransportError, path: str) -> str:
        if isinstance(exc, httpx2.ConnectError):
            return self._unreachable()
        if isinstance(exc, httpx2.ConnectTimeout):
            return f"The model hub at {self.endpoint} did not answer; check the connection."
        if isinstance(exc, httpx2.ReadTimeout):
            return (
                f"The download of {path} stalled: nothing arrived for "
                f"{self.timeout.read:.0f} s, {RETRIES + 1} times in a row; try again later, "
                "it resumes where it stopped."
            )
        return (
            f"The download of {path} kept breaking off ({exc}); "
            "try again, it resumes where it stopped."
        )

    def _sleep(self, attempt: int, response: httpx2.Response | None) -> None:
        delay = self.backoff * 2**attempt
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after and retry_after.strip().isdigit():
            delay = min(float(retry_after), MAX_RETRY_AFTER)
        if self._stop.wait(delay):
            raise Cancelled

    def _check_cancel(self) -> None:
        if self._stop.is_set():
            raise Cancelled

    def _bytes_here(self, planned: PlannedFile) -> int:
        """What is already on disk of a file: all of it once finished, else its .part."""
        return _on_disk(self.folder, planned.path) or _on_disk(self.folder, planned.path + ".part")

    def _unreachable(self) -> str:
        return f"Could not reach the model hub at {self.endpoint}: check the internet connection."

    # -- finishing -----------------------------------------------------------------------------

    def _register(self, plan: list[PlannedFile]) -> ModelEntry:
        if self.entry.engine == "webllm":
            problems = mlc_problems(self.folder, [f.path for f in plan])
            if problems:
                raise DownloadError(
                    f"The hub repository {self.entry.repo} is not a complete model: "
                    f"{'; '.join(problems)}."
                )
        sha256 = {f.path: self._finished[f.path]["sha256"] for f in plan}
        webllm = dict(self.entry.webllm) if self.entry.webllm else None
        model = ModelEntry(
            id=self.entry.id,
            name=self.entry.name,
            engine=self.entry.engine,
            files=[f.path for f in plan],
            size=sum((self.folder / f.path).stat().st_size for f in plan),
            context_window=self.entry.context_window,
            license=self.entry.license,
            sha256=sha256,
            webllm=webllm,
            source=f"{self.endpoint}/{self.entry.repo}",
        )
        (self.folder / "plan.json").unlink()
        return self.store.register_folder(model, self.folder)

    # -- progress ------------------------------------------------------------------------------

    def _report_until(self, stop: threading.Event) -> None:
        samples: list[tuple[float, int]] = []
        while True:
            now, done = time.monotonic(), self._counter.done
            samples = [s for s in samples if now - s[0] <= 3.0] + [(now, done)]
            elapsed = now - samples[0][0]
            self._report_downloading((done - samples[0][1]) / elapsed if elapsed > 0 else 0.0)
            if stop.wait(PROGRESS_INTERVAL):
                return

    def _report_downloading(self, speed: float) -> None:
        done = self._counter.done
        self.on_progress(
            Progress(
                self.entry.id,
                "downloading",
                done=min(done, self._total),
                total=self._total,
                speed=speed,
                eta=max(0, self._total - done) / speed if speed > 0 else None,
                files_done=self._counter.files_done,
                files_total=self._files_total,
                note=self._note,
            )
        )

    def _report(self, state: str, error: str = "") -> None:
        self.on_progress(
            Progress(
                self.entry.id,
                state,
                done=self._total
                if state in ("verifying", "done")
                else min(self._counter.done, self._total),
                total=self._total,
                files_done=self._counter.files_done,
                files_total=self._files_total,
                error=error,
            )
        )


def _wanted(path: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def _on_disk(folder: Path, name: str) -> int:
    try:
        return (folder / name).stat().st_size
    except FileNotFoundError:
        return 0


def _identity(path: Path) -> dict[str, int]:
    """What changes when a file is rewritten, truncated or replaced."""
    info = path.stat()
    return {"size": info.st_size, "mtime_ns": info.st_mtime_ns, "inode": info.st_ino}


def _has_data(folder: Path) -> bool:
    return any(
        p.is_file() and p.name != "plan.json" and p.stat().st_size > 0 for p in folder.rglob("*")
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _expected_length(response: httpx2.Response, offset: int) -> int | None:
    length = response.headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None


class _Hashes:
    """A file's sha256, and its git blob sha1 where the hub gave one (files kept in git)."""

    def __init__(self, planned: PlannedFile):
        self.sha256 = hashlib.sha256()
        self.git = None
        if planned.git_oid and planned.size is not None:  # git hashes a header, then the bytes
            self.git = hashlib.sha1(f"blob {planned.size}\0".encode())

    @classmethod
    def of_file(cls, path: Path, planned: PlannedFile) -> _Hashes:
        hashes = cls(planned)
        with path.open("rb") as data:
            while chunk := data.read(CHUNK):
                hashes.update(chunk)
        return hashes

    def update(self, chunk: bytes) -> None:
        self.sha256.update(chunk)
        if self.git is not None:
            self.git.update(chunk)

    def digest(self) -> dict[str, str]:
        return {"sha256": self.sha256.hexdigest(), "git": self.git.hexdigest() if self.git else ""}


def _hash_problem(planned: PlannedFile, digest: dict[str, str], part: Path) -> str | None:
    size = part.stat().st_size
    if planned.size is not None and size != planned.size:
        return f"{size} bytes instead of {planned.size}"
    if planned.sha256 and digest["sha256"] != planned.sha256:
        return "its sha256 does not match the hub's"
    if planned.git_oid and digest["git"] != planned.git_oid:
        return "its git hash does not match the hub's"
    if planned.library:
        with part.open("rb") as data:
            if data.read(4) != WASM_MAGIC:
                return "it is not a WebAssembly model library"
    return None


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _status_error(status: int, what: str, file: bool = False) -> str:
    if status == 404:
        return f"{what} was not found on the hub." if file else f"The model {what} was not found."
    if status in (401, 403):
        return f"The hub refused access to {what} (HTTP {status})."
    if status == 429:
        return "The hub is limiting downloads (too many requests); try again in a few minutes."
    if status >= 500:
        return f"The hub had a server error (HTTP {status}) for {what}; try again later."
    return f"The hub answered HTTP {status} for {what}."


def _disk_error(exc: OSError, folder: Path) -> str:
    if exc.errno in (errno.ENOSPC, errno.EACCES, errno.EPERM, errno.EROFS):
        return storage_error(exc, folder.parent.parent)
    return f"Could not write the download to {folder}: {exc.strerror or exc}."


class DownloadManager:
    """The app's downloads, one thread each; every progress report goes to `publish`."""

    def __init__(self, store: ModelStore, publish: Callable[[Progress], None]):
        self.store = store
        self.publish = publish
        self._active: dict[str, tuple[Download, threading.Thread]] = {}
        self._last: dict[str, Progress] = {}
        self._lock = threading.Lock()

    def start(self, entry: CatalogEntry) -> None:
        with self._lock:
            if entry.id in self._active:
                return
            download = Download(self.store, entry, on_progress=self._progress)
            thread = threading.Thread(target=self._run, args=(download,), daemon=True)
            self._active[entry.id] = (download, thread)
        thread.start()

    def active(self, model_id: str) -> bool:
        with self._lock:
            return model_id in self._active

    def cancel(self, model_id: str) -> int | None:
        """Stop a download and delete its partial files, or discard one left by an earlier run;
        returns the bytes freed (None: nothing to cancel). DownloadBusy: another process is
        downloading it."""
        with self._lock:
            active = self._active.get(model_id)
        if active is not None:
            active[0].cancel()
            return 0
        try:
            freed = self.store.discard_partial(model_id)
        except FileNotFoundError:
            return None
        self._progress(Progress(model_id, "cancelled"))
        return freed.freed

    def stop_all(self) -> None:
        """The window is closing: stop every download within STOP_GRACE seconds, keeping the
        files for a resume."""
        with self._lock:
            active = list(self._active.values())
        for download, _ in active:
            download.stop()
        deadline = time.monotonic() + STOP_GRACE + 0.5
        for _, thread in active:
            thread.join(max(0.0, deadline - time.monotonic()))

    def states(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {model_id: p.to_dict() for model_id, p in self._last.items()}

    def _progress(self, progress: Progress) -> None:
        with self._lock:
            self._last[progress.model_id] = progress
        self.publish(progress)

    def _run(self, download: Download) -> None:
        try:
            download.run()
        except (Cancelled, DownloadError):
            pass  # reported through progress
        except Exception as exc:  # a bug: still tell the user, and keep the log
            log.exception("download of %s failed", download.entry.id)
            self._progress(
                Progress(download.entry.id, "failed", error=f"The download failed: {exc}")
            )
        finally:
            with self._lock:
                self._active.pop(download.entry.id, None)
