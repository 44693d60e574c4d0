"""Verified, resumable model downloads from the hub, through huggingface_hub.

huggingface_hub lists the repository (its commit and every file's size, git oid and LFS sha256)
and its HTTP session fetches the bytes. What the client does not do, this module does (see
shared FACTS): resume a file across processes, retry a GET on 429/5xx/a dropped connection with
backoff, check every file's hash, check free disk space first, and never register a model before
all of it is in place.

    <data>/models/.downloads/<model-id>/     while downloading; never listed as a model
    ├── plan.json                            the commit and the files with their sizes and hashes
    ├── params_shard_0.bin                   finished and verified
    └── params_shard_1.bin.part              in progress; resumed with a Range request

When every file is verified, model.json is written and the folder is renamed to
`<data>/models/<model-id>/` in one step. Cancel deletes the folder; a killed download leaves
it for the next attempt, which fetches only what is missing.
"""

from __future__ import annotations

import contextlib
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
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
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

from desktop_llm.constants import hub_endpoint
from desktop_llm.models.catalog import CatalogEntry, model_lib_url
from desktop_llm.models.store import ModelEntry, ModelStore, human_size, sha256_of

log = logging.getLogger(__name__)

CHUNK = 4 << 20  # bytes per read when hashing a file
# Files fetched in parallel: enough to fill a fast line, no more than the cores can hash and
# write (on 2 cores, 4 at a time was slower than 2: measured in bench/bench_models.py).
WORKERS = max(2, min(4, os.cpu_count() or 2))
RETRIES = 4  # further attempts after a 429, a 5xx or a dropped connection
BACKOFF = 0.5  # seconds before the first retry; doubles each time
MAX_RETRY_AFTER = 30.0  # the longest Retry-After we honour
DISK_MARGIN = 64 << 20  # left free on the disk after a download
PROGRESS_INTERVAL = 0.2  # seconds between progress reports
WASM_MAGIC = b"\0asm"


class DownloadError(Exception):
    """A download failed; the message is one sentence for the user."""


class Cancelled(Exception):
    pass


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
    ):
        self.store = store
        self.entry = entry
        self.on_progress = on_progress or (lambda progress: None)
        self.api = HfApi(endpoint=endpoint or hub_endpoint())
        self.endpoint = self.api.endpoint
        self.workers = workers
        self.backoff = backoff
        self.folder = store.partial_dir(entry.id)
        self._cancel = threading.Event()
        self._counter = _Counter()
        self._total = 0
        self._files_total = 0

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> ModelEntry:
        if self.store.get(self.entry.id) is not None:
            raise DownloadError(f"{self.entry.name} is already installed.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            plan = self._load_or_make_plan()
            self._check_disk_space(plan)
            self._fetch_all(plan)
            self._report("verifying")
            model = self._register(plan)
        except Cancelled:
            shutil.rmtree(self.folder, ignore_errors=True)
            self._report("cancelled")
            raise
        except DownloadError as exc:
            self._report("failed", str(exc))
            raise
        except OSError as exc:
            error = DownloadError(_disk_error(exc, self.folder))
            self._report("failed", str(error))
            raise error from exc
        self._report("done")
        return model

    # -- the plan: which files, how big, which hashes ----------------------------------------

    def _load_or_make_plan(self) -> list[PlannedFile]:
        saved = self.folder / "plan.json"
        if saved.is_file():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                data = json.loads(saved.read_text(encoding="utf-8"))
                if data["repo"] == self.entry.repo:
                    return [PlannedFile(**item) for item in data["files"]]
        commit = self._hub(
            lambda: self.api.model_info(self.entry.repo, revision=self.entry.revision).sha
        )
        tree = self._hub(
            lambda: list(self.api.list_repo_tree(self.entry.repo, revision=commit, recursive=True))
        )
        files = [
            PlannedFile(
                path=item.path,
                url=hf_hub_url(self.entry.repo, item.path, revision=commit, endpoint=self.endpoint),
                size=item.size,
                sha256=item.lfs.sha256 if item.lfs else "",
                git_oid="" if item.lfs else item.blob_id,
            )
            for item in tree
            if hasattr(item, "blob_id") and _wanted(item.path, self.entry.files)
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
            files.append(PlannedFile(name, url, _announced_size(url), library=True))
        saved.write_text(
            json.dumps(
                {"repo": self.entry.repo, "commit": commit, "files": [asdict(f) for f in files]}
            )
        )
        return files

    def _hub(self, call: Callable[[], Any]) -> Any:
        """A metadata call with the same retries as a file (huggingface_hub does not retry it)."""
        for attempt in range(RETRIES + 1):
            self._check_cancel()
            try:
                return call()
            except (RepositoryNotFoundError, RevisionNotFoundError):
                raise DownloadError(
                    f"The model {self.entry.repo} was not found on the hub ({self.endpoint})."
                ) from None
            except GatedRepoError:
                raise DownloadError(
                    f"{self.entry.repo} needs you to accept its licence on the hub first."
                ) from None
            except OfflineModeIsEnabled:
                raise DownloadError("Downloads are off: HF_HUB_OFFLINE is set.") from None
            except HfHubHTTPError as exc:
                status = exc.response.status_code if exc.response is not None else 0
                if not _retryable(status) or attempt == RETRIES:
                    raise DownloadError(_status_error(status, self.entry.repo)) from None
                self._sleep(attempt, exc.response)
            except httpx2.TransportError:
                if attempt == RETRIES:
                    raise DownloadError(self._unreachable()) from None
                self._sleep(attempt, None)
        raise AssertionError("unreachable")

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
        todo = [f for f in plan if not (self.folder / f.path).is_file()]
        self._counter.files_done = len(plan) - len(todo)
        todo.sort(key=lambda f: -(f.size or 0))  # the biggest first: they set the finish time
        stop_reporting = threading.Event()
        reporter = threading.Thread(target=self._report_until, args=(stop_reporting,), daemon=True)
        reporter.start()
        try:
            with ThreadPoolExecutor(
                max_workers=self.workers, thread_name_prefix="download"
            ) as pool:
                futures = [pool.submit(self._fetch_verified, planned) for planned in todo]
                finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = [f for f in finished if f.exception() is not None]
                if failed:
                    self._cancel.set()  # the other files stop at their next chunk, kept for later
                    wait(futures)
                    errors = [f.exception() for f in futures if f.exception() is not None]
                    first = next((e for e in errors if not isinstance(e, Cancelled)), errors[0])
                    raise first
        finally:
            stop_reporting.set()
            reporter.join()

    def _fetch_verified(self, planned: PlannedFile) -> None:
        """Fetch a file and check its hash; a damaged copy is fetched once more."""
        target = self.folder / planned.path
        target.parent.mkdir(parents=True, exist_ok=True)
        for attempt in (1, 2):
            digest = self._fetch(planned)
            problem = _hash_problem(planned, digest, target.with_name(target.name + ".part"))
            if problem is None:
                target.with_name(target.name + ".part").replace(target)
                with self._counter.lock:
                    self._counter.files_done += 1
                planned.sha256 = digest["sha256"]  # for model.json, and `verify` later
                return
            log.warning("%s: %s (attempt %d)", planned.path, problem, attempt)
            target.with_name(target.name + ".part").unlink(missing_ok=True)
        raise DownloadError(
            f"{planned.path} of {self.entry.name} arrived damaged twice ({problem}); "
            "the server's copy may be broken."
        )

    def _fetch(self, planned: PlannedFile) -> dict[str, str]:
        """GET into <file>.part, resuming what is there; returns its sha256 and git sha1,
        computed as the bytes arrive (a resumed file's first part is read back once)."""
        part = self.folder / (planned.path + ".part")
        for attempt in range(RETRIES + 1):
            self._check_cancel()
            offset = _on_disk(self.folder, planned.path + ".part")
            if planned.size is not None and offset >= planned.size:
                return _Hashes.of_file(part, planned).digest()
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            try:
                with get_session().stream("GET", planned.url, headers=headers) as response:
                    if response.status_code == 416 and offset:  # a stale part: start over
                        part.unlink()
                        continue
                    if response.status_code >= 400:
                        if not _retryable(response.status_code) or attempt == RETRIES:
                            raise DownloadError(
                                _status_error(response.status_code, planned.path, file=True)
                            )
                        self._sleep(attempt, response)
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
                if attempt == RETRIES:
                    if isinstance(exc, httpx2.ConnectError):
                        raise DownloadError(self._unreachable()) from None
                    raise DownloadError(
                        f"The download of {planned.path} kept breaking off ({exc}); "
                        "try again, it resumes where it stopped."
                    ) from None
                self._sleep(attempt, None)
        raise AssertionError("unreachable")

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

    def _sleep(self, attempt: int, response: httpx2.Response | None) -> None:
        delay = self.backoff * 2**attempt
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after and retry_after.strip().isdigit():
            delay = min(float(retry_after), MAX_RETRY_AFTER)
        if self._cancel.wait(delay):
            raise Cancelled

    def _check_cancel(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    def _bytes_here(self, planned: PlannedFile) -> int:
        """What is already on disk of a file: all of it once finished, else its .part."""
        return _on_disk(self.folder, planned.path) or _on_disk(self.folder, planned.path + ".part")

    def _unreachable(self) -> str:
        return f"Could not reach the model hub at {self.endpoint}: check the internet connection."

    # -- finishing -----------------------------------------------------------------------------

    def _register(self, plan: list[PlannedFile]) -> ModelEntry:
        # Files finished by an earlier run of a resumed download have no sha256 in the plan yet.
        sha256 = {f.path: f.sha256 or sha256_of(self.folder / f.path) for f in plan}
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
            speed = (done - samples[0][1]) / elapsed if elapsed > 0 else 0.0
            left = max(0, self._total - done)
            self.on_progress(
                Progress(
                    self.entry.id,
                    "downloading",
                    done=min(done, self._total),
                    total=self._total,
                    speed=speed,
                    eta=left / speed if speed > 0 else None,
                    files_done=self._counter.files_done,
                    files_total=self._files_total,
                )
            )
            if stop.wait(PROGRESS_INTERVAL):
                return

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


def _announced_size(url: str) -> int | None:
    """The size a host gives for a file in answer to HEAD, for progress and the disk check."""
    try:
        response = get_session().head(url, follow_redirects=True)
    except httpx2.HTTPError:
        return None
    length = response.headers.get("content-length", "")
    return int(length) if response.status_code == 200 and length.isdigit() else None


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
    if exc.errno == errno.ENOSPC:
        return f"The disk is full at {folder.parent.parent}; free some space and download again."
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"Desktop LLM cannot write to {folder.parent.parent}: permission denied."
    return f"Could not write the download to {folder}: {exc.strerror or exc}."


class DownloadManager:
    """The app's downloads, one thread each; every progress report goes to `publish`."""

    def __init__(self, store: ModelStore, publish: Callable[[Progress], None]):
        self.store = store
        self.publish = publish
        self._active: dict[str, Download] = {}
        self._last: dict[str, Progress] = {}
        self._lock = threading.Lock()

    def start(self, entry: CatalogEntry) -> None:
        with self._lock:
            if entry.id in self._active:
                return
            download = Download(self.store, entry, on_progress=self._progress)
            self._active[entry.id] = download
        threading.Thread(target=self._run, args=(download,), daemon=True).start()

    def cancel(self, model_id: str) -> bool:
        """Stop a download and delete its partial files; also one left by an earlier run."""
        with self._lock:
            download = self._active.get(model_id)
        if download is not None:
            download.cancel()
            return True
        folder = self.store.partial_dir(model_id)
        if folder.is_dir():
            shutil.rmtree(folder)
            self._progress(Progress(model_id, "cancelled"))
            return True
        return False

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
