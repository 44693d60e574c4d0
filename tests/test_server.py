"""The local server's security and file serving, over real HTTP on loopback."""

from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path

import httpx
import pytest

from desktop_llm.models.store import ModelEntry

SECRET_TEXT = b"outside-the-served-folders"


@pytest.fixture
def origin(launcher) -> str:
    return launcher.server.origin


@pytest.fixture
def cookies(launcher) -> dict[str, str]:
    return {"dllm_session": launcher.server.session.secret}


@pytest.fixture
def small_model(launcher, tmp_path: Path) -> bytes:
    """A 1000-byte model in the store, and a file outside every served folder."""
    data = bytes(range(256)) * 3 + bytes(232)
    folder = launcher.store.root / "tiny"
    folder.mkdir()
    (folder / "tiny.gguf").write_bytes(data)
    launcher.store.write_manifest(ModelEntry("tiny", "Tiny", "wllama", ["tiny.gguf"], len(data)))
    (launcher.paths.data / "outside.txt").write_bytes(SECRET_TEXT)
    (tmp_path / "outside.txt").write_bytes(SECRET_TEXT)
    (folder / "link-out").symlink_to(tmp_path / "outside.txt")
    (folder / "dir-link").symlink_to(tmp_path)
    return data


def raw_get(launcher, path: str, cookie: bool = True) -> tuple[int, bytes]:
    """Send the path byte for byte, without any client-side normalisation."""
    conn = http.client.HTTPConnection("127.0.0.1", launcher.server.port, timeout=10)
    headers = {"Host": f"127.0.0.1:{launcher.server.port}"}
    if cookie:
        headers["Cookie"] = f"dllm_session={launcher.server.session.secret}"
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def test_server_listens_on_loopback_only(launcher):
    assert launcher.server.sock.getsockname()[0] == "127.0.0.1"


def test_answers_are_sent_at_once_without_waiting_for_acknowledgements(launcher, cookies):
    """Nagle's algorithm off on every connection the page opens: with it on, an answer's body
    (written after its headers) waited for the page's delayed acknowledgement, about 40 ms on
    every call from the page to Python. Checked on the server's side of live keep-alive
    connections, since the delay itself is a matter of timing."""
    with httpx.Client(base_url=launcher.server.origin, cookies=cookies) as page:
        for _ in range(3):
            assert page.get("/api/info").status_code == 200
        connections = launcher.server._server.server_state.connections
        sockets = [c.transport.get_extra_info("socket") for c in connections]
        assert sockets
        for sock in sockets:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_api_refuses_missing_or_wrong_secret(origin, cookies):
    assert httpx.get(f"{origin}/api/info").status_code == 403
    wrong = {"dllm_session": "x" * len(cookies["dllm_session"])}
    assert httpx.get(f"{origin}/api/info", cookies=wrong).status_code == 403
    assert (
        httpx.get(f"{origin}/models/smollm2-135m-instruct-q4_1/resolve/main/x").status_code == 403
    )
    ok = httpx.get(f"{origin}/api/info", cookies=cookies)
    assert ok.status_code == 200
    assert ok.json()["app"] == "Desktop LLM"


def test_changes_need_the_page_header(origin, cookies):
    body = json.dumps({"theme": "dark"})
    refused = httpx.post(f"{origin}/api/settings", cookies=cookies, content=body)
    assert refused.status_code == 403
    accepted = httpx.post(
        f"{origin}/api/settings", cookies=cookies, content=body, headers={"X-Desktop-LLM": "1"}
    )
    assert accepted.status_code == 200
    assert accepted.json()["theme"] == "dark"


def test_foreign_host_is_refused(launcher, origin, cookies):
    for host in ("evil.example", "127.0.0.1", f"evil.example:{launcher.server.port}"):
        answer = httpx.get(f"{origin}/api/info", cookies=cookies, headers={"Host": host})
        assert answer.status_code == 421, host
    assert httpx.get(f"{origin}/", headers={"Host": "attacker.test"}).status_code == 421


def test_no_cors(origin, cookies):
    answer = httpx.get(
        f"{origin}/api/info", cookies=cookies, headers={"Origin": "http://evil.example"}
    )
    assert "access-control-allow-origin" not in answer.headers
    preflight = httpx.options(
        f"{origin}/api/settings",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_launch_code_works_once_and_sets_a_strict_cookie(launcher, origin):
    url = launcher.server.launch_url()
    first = httpx.get(url)
    assert first.status_code == 200
    assert '<meta http-equiv="refresh" content="0;url=/">' in first.text  # moves on by itself
    cookie = first.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert launcher.server.session.secret not in first.text
    assert httpx.get(url).status_code == 403  # spent
    assert httpx.get(f"{origin}/").status_code == 403  # no cookie, no page


def test_ui_is_served_under_a_strict_policy(origin, cookies):
    page = httpx.get(f"{origin}/", cookies=cookies)
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval'" not in csp.replace("wasm-unsafe-eval", "")
    assert "http:" not in csp and "https:" not in csp
    assert page.headers["cross-origin-opener-policy"] == "same-origin"
    assert page.headers["cross-origin-embedder-policy"] == "require-corp"
    assert "<script>" not in page.text  # no inline script in the built page


@pytest.mark.parametrize(
    "path",
    [
        "/models/tiny/resolve/main/../../outside.txt",
        "/models/tiny/resolve/main/%2e%2e/%2e%2e/outside.txt",
        "/models/tiny/resolve/main/%2E%2E%2F%2E%2E%2Foutside.txt",
        "/models/tiny/resolve/main/%252e%252e/%252e%252e/outside.txt",
        "/models/tiny/resolve/main/..%5c..%5coutside.txt",
        "/models/tiny/resolve/main/..\\..\\outside.txt",
        "/models/tiny/resolve/main//etc/passwd",
        "/models/tiny/resolve/main/%2fetc%2fpasswd",
        "/models/tiny/resolve/main/link-out",
        "/models/tiny/resolve/main/dir-link/outside.txt",
        "/models/..%2f/resolve/main/outside.txt",
        "/models/%2e%2e/resolve/main/data/outside.txt",
        "/assets/../../outside.txt",
        "/assets/%2e%2e/%2e%2e/%2e%2e/outside.txt",
        "/assets/..%2f..%2f..%2foutside.txt",
        "/../../../../etc/passwd",
    ],
)
def test_traversal_never_reads_outside(launcher, small_model, path):
    status, body = raw_get(launcher, path)
    assert status in (400, 403, 404), (status, body[:80])
    assert SECRET_TEXT not in body and b"root:" not in body


def test_model_file_served_whole_with_etag(launcher, origin, cookies, small_model):
    answer = httpx.get(f"{origin}/models/tiny/resolve/main/tiny.gguf", cookies=cookies)
    assert answer.status_code == 200
    assert answer.content == small_model
    assert answer.headers["etag"]
    assert answer.headers["accept-ranges"] == "bytes"
    assert answer.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=-100", 900, 999),
        ("bytes=900-", 900, 999),
        ("bytes=990-5000", 990, 999),
    ],
)
def test_range_requests(origin, cookies, small_model, header, start, end):
    answer = httpx.get(
        f"{origin}/models/tiny/resolve/main/tiny.gguf", cookies=cookies, headers={"Range": header}
    )
    assert answer.status_code == 206
    assert answer.headers["content-range"] == f"bytes {start}-{end}/1000"
    assert answer.content == small_model[start : end + 1]


def test_unsatisfiable_range(origin, cookies, small_model):
    answer = httpx.get(
        f"{origin}/models/tiny/resolve/main/tiny.gguf",
        cookies=cookies,
        headers={"Range": "bytes=2000-3000"},
    )
    assert answer.status_code == 416
    assert answer.headers["content-range"] == "bytes */1000"


def test_if_range_with_old_etag_sends_whole_file(origin, cookies, small_model):
    answer = httpx.get(
        f"{origin}/models/tiny/resolve/main/tiny.gguf",
        cookies=cookies,
        headers={"Range": "bytes=0-9", "If-Range": '"stale"'},
    )
    assert answer.status_code == 200
    assert answer.content == small_model


def test_bad_json_and_wrong_values_get_clear_errors(origin, cookies):
    headers = {"X-Desktop-LLM": "1"}
    bad = httpx.post(f"{origin}/api/settings", cookies=cookies, headers=headers, content=b"{nope")
    assert bad.status_code == 400 and "JSON" in bad.json()["error"]
    wrong = httpx.post(
        f"{origin}/api/settings", cookies=cookies, headers=headers, json={"temperature": 9}
    )
    assert wrong.status_code == 400
    assert wrong.json()["field"] == "temperature"
    assert "between 0 and 2" in wrong.json()["error"]
