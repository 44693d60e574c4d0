"""A model hub on loopback that speaks what huggingface_hub calls, for tests and benchmarks: the
real client downloads from it through HF_ENDPOINT. It answers `/api/models/<repo>/revision/<rev>`
(with each file's size, git oid and LFS sha256 when asked `blobs=true`), `/api/models/<repo>/tree`,
and `/<repo>/resolve/<rev>/<file>` with Range, ETag, X-Repo-Commit and X-Linked-Etag/-Size, as
huggingface.co does. It also serves WebLLM model
libraries (any path ending in .wasm), standing in for raw.githubusercontent.com.

Repositories are made by the tests. Faults can be queued per file, one per GET:
"401", "403", "429", "500", "corrupt" (one byte flipped), "truncate" (the connection closes
halfway), "slow" (throttled, so that a test can kill a download in the middle), "stall" (half
the file, then silence for `stall_seconds` with the connection open), "silent" (headers, then
that silence). `rate` throttles every file;
`stall_metadata` makes the metadata calls wait that long before answering. A repository can be
gated: without the right token its files and metadata answer 401/403 as huggingface.co does.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

LFS_SUFFIXES = (".bin", ".gguf", ".safetensors", ".wasm")
SHARD = 3 << 20  # bytes of a generated weight shard
SLOW_BYTES_PER_SECOND = 2 << 20


@dataclass
class Repo:
    files: dict[str, Path]  # path in the repo -> file on disk
    sha: str = ""
    token: str = ""  # gated: only requests with this bearer token get in

    def __post_init__(self):
        if not self.sha:
            names = "".join(sorted(self.files))
            self.sha = hashlib.sha1(names.encode()).hexdigest()


@dataclass
class LoggedRequest:
    method: str
    path: str
    range: str | None
    authorization: str | None = None
    time: float = field(default_factory=time.monotonic)


@dataclass
class Hub:
    root: Path  # where generated files live
    repos: dict[str, Repo] = field(default_factory=dict)
    libs: dict[str, Path] = field(default_factory=dict)  # library file name -> file
    faults: dict[str, list[str]] = field(default_factory=dict)  # file name -> queued faults
    requests: list[LoggedRequest] = field(default_factory=list)
    on_get: list = field(default_factory=list)  # callables(path) run before a file's bytes
    rate: int = 0  # bytes per second for every file's body; 0: as fast as possible
    stall_seconds: float = 60.0  # how long a "stall" fault stays silent
    stall_metadata: float = 0.0  # seconds every metadata call waits before answering
    server: ThreadingHTTPServer | None = None
    _hashes: dict[Path, tuple[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_repo(self, repo_id: str, files: dict[str, bytes | Path]) -> Repo:
        stored = {}
        for name, content in files.items():
            if isinstance(content, Path):
                stored[name] = content
            else:
                path = self.root / repo_id / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(content)
                stored[name] = path
        self.repos[repo_id] = Repo(stored)
        return self.repos[repo_id]

    def add_lib(self, name: str, content: bytes) -> None:
        path = self.root / "libs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        self.libs[name] = path

    def gets(self, name: str) -> list[LoggedRequest]:
        """The GETs of one file's bytes."""
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/" + name)]

    def hashes(self, path: Path) -> tuple[str, str]:
        """(git sha1, sha256) of a file, cached."""
        if path not in self._hashes:
            data = path.read_bytes()
            git = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
            self._hashes[path] = (git, hashlib.sha256(data).hexdigest())
        return self._hashes[path]

    def start(self) -> Hub:
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: Hub

    def log_message(self, *args) -> None:
        pass

    def handle(self) -> None:
        # A client that stopped reading: a cancelled or killed download.
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            super().handle()

    def do_GET(self) -> None:
        self._route(send_body=True)

    def do_HEAD(self) -> None:
        self._route(send_body=False)

    def _route(self, send_body: bool) -> None:
        path = unquote(urlparse(self.path).path)
        self.hub.requests.append(
            LoggedRequest(
                self.command, path, self.headers.get("Range"), self.headers.get("Authorization")
            )
        )
        if path.startswith("/api/") and self.hub.stall_metadata:
            time.sleep(self.hub.stall_metadata)
        if m := re.fullmatch(r"/api/models/(.+?)/(revision|tree)/.*", path):
            if self._gated(m.group(1)):
                return
            if m.group(2) == "revision":
                return self._revision(m.group(1))
            return self._tree(m.group(1))
        if m := re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path):
            repo = self.hub.repos.get(m.group(1))
            if self._gated(m.group(1)):
                return
            if repo is None or m.group(3) not in repo.files:
                return self._json(
                    {"error": "Entry not found"}, 404, {"X-Error-Code": "EntryNotFound"}
                )
            return self._file(repo.files[m.group(3)], m.group(3), send_body, repo)
        if path.endswith(".wasm") and path.rsplit("/", 1)[1] in self.hub.libs:
            name = path.rsplit("/", 1)[1]
            return self._file(self.hub.libs[name], name, send_body, None)
        self._json({"error": "not found"}, 404)

    def _gated(self, repo_id: str) -> bool:
        """huggingface.co's answer to a gated repository: 401 without a token, 403 with one
        that has not accepted the licence."""
        repo = self.hub.repos.get(repo_id)
        if repo is None or not repo.token:
            return False
        given = self.headers.get("Authorization") or ""
        if given == f"Bearer {repo.token}":
            return False
        status = 403 if given else 401
        self._json(
            {"error": f"Access to model {repo_id} is restricted."},
            status,
            {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access restricted"},
        )
        return True

    def _revision(self, repo_id: str) -> None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            return self._json(
                {"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"}
            )
        blobs = "blobs=true" in (urlparse(self.path).query or "").lower()
        siblings = []
        for name, path in sorted(repo.files.items()):
            sibling: dict = {"rfilename": name}
            if blobs:  # what `model_info(files_metadata=True)` asks for
                git, sha256 = self.hub.hashes(path)
                size = path.stat().st_size
                sibling.update(size=size, blobId=git)
                if name.endswith(LFS_SUFFIXES):
                    sibling["lfs"] = {"sha256": sha256, "size": size, "pointerSize": 134}
            siblings.append(sibling)
        self._json({"id": repo_id, "modelId": repo_id, "sha": repo.sha, "siblings": siblings})

    def _tree(self, repo_id: str) -> None:
        repo = self.hub.repos.get(repo_id)
        if repo is None:
            return self._json(
                {"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"}
            )
        items = []
        for name, path in sorted(repo.files.items()):
            git, sha256 = self.hub.hashes(path)
            size = path.stat().st_size
            item = {"type": "file", "path": name, "size": size, "oid": git}
            if name.endswith(LFS_SUFFIXES):
                item["lfs"] = {"oid": sha256, "size": size, "pointerSize": 134}
            items.append(item)
        self._json(items)

    def _file(self, path: Path, name: str, send_body: bool, repo: Repo | None) -> None:
        fault = None
        if send_body and self.hub.faults.get(name):
            fault = self.hub.faults[name].pop(0)
        if fault in ("401", "403", "429", "500"):
            return self._json(
                {"error": "refused" if fault < "429" else "try later"},
                int(fault),
                {"Retry-After": "0"} if fault == "429" else None,
            )
        if send_body:
            for hook in self.hub.on_get:
                hook(name)
        git, sha256 = self.hub.hashes(path)
        size = path.stat().st_size
        start = 0
        if m := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or ""):
            start = int(m.group(1))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(206 if start else 200)
        etag = sha256 if name.endswith(LFS_SUFFIXES) else git
        if repo is not None:
            self.send_header("X-Repo-Commit", repo.sha)
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(size))
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Accept-Ranges", "bytes")
        if start:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if not send_body:
            return
        with path.open("rb") as data:
            data.seek(start)
            if fault is None and not self.hub.rate:
                self.connection.sendfile(data, offset=start)
                return
            body = data.read()
        if fault == "corrupt":
            middle = len(body) // 2
            body = body[:middle] + bytes([body[middle] ^ 0xFF]) + body[middle + 1 :]
        elif fault == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        elif fault in ("stall", "silent"):
            self.wfile.write(body[: len(body) // 2] if fault == "stall" else b"")
            self.wfile.flush()
            time.sleep(self.hub.stall_seconds)
            self.close_connection = True
            return
        elif fault == "slow" or self.hub.rate:
            rate = SLOW_BYTES_PER_SECOND if fault == "slow" else self.hub.rate
            for offset in range(0, len(body), 64 << 10):
                self.wfile.write(body[offset : offset + (64 << 10)])
                time.sleep((64 << 10) / rate)
            return
        self.wfile.write(body)

    def _json(self, data, status: int = 200, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


def add_mlc_repo(hub: Hub, model_id: str, shards: int = 4):
    """The catalog entry `model_id`'s repository as mlc-ai publishes one, with random weights
    (WebLLM cannot run a model here anyway), plus its model library; returns the entry."""
    from desktop_llm.models import catalog

    entry = catalog.find(model_id)
    assert entry is not None, model_id
    files: dict[str, bytes] = {
        "mlc-chat-config.json": json.dumps(
            {"model_type": "llama", "context_window_size": 4096}
        ).encode(),
        "tokenizer.json": json.dumps({"model": {"type": "BPE"}}).encode(),
        "README.md": b"# not needed by the engine",
        ".gitattributes": b"*.bin filter=lfs",
    }
    records = []
    for index in range(shards):
        name = f"params_shard_{index}.bin"
        files[name] = os.urandom(SHARD + index)
        records.append({"dataPath": name, "nbytes": SHARD + index, "records": []})
    files["tensor-cache.json"] = json.dumps({"records": records}).encode()
    hub.add_repo(entry.repo, files)
    hub.add_lib(entry.model_lib_url.rsplit("/", 1)[1], b"\0asm\x01\0\0\0" + os.urandom(200_000))
    return entry
