"""What an attacker on the same machine, or a page gone wrong, tries against the real app's
local server and launchers: the launch code on a command line, settings that name programs,
files other users can read, odd links, huge and malformed bodies, short API keys."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import threading
import time
from pathlib import Path

import httpx
import pytest

from desktop_llm.constants import CSRF_HEADER
from desktop_llm.hosts.browser import BrowserHost, RefusedFlag, browser_flags
from desktop_llm.logs import setup_logging
from desktop_llm.settings import SettingsError
from tests.support.page import CHROMIUM, QUIET_CHROMIUM
from tests.support.xvfb import virtual_display


def session(launcher) -> httpx.Client:
    client = httpx.Client(base_url=launcher.server.origin, timeout=30)
    client.get(launcher.server.launch_url().removeprefix(launcher.server.origin))
    return client


def csrf_header(launcher) -> dict[str, str]:
    return {CSRF_HEADER: "1"}


def post(client: httpx.Client, launcher, path: str, body) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, content=data, headers=csrf_header(launcher))


@pytest.mark.parametrize(
    "changes",
    [
        {"browser": "/usr/bin/python3"},
        {"browser_flags": ["--renderer-cmd-prefix=python3 -c 'print(1)'"]},
        {"browser_flags": ["--gpu-launcher=/bin/sh"]},
        {"browser_flags": ["--no-sandbox"]},
    ],
)
def test_the_page_cannot_set_programs_or_their_flags(launcher, changes):
    client = session(launcher)
    before = (
        launcher.settings_file.path.read_bytes() if launcher.settings_file.path.exists() else b""
    )
    refused = post(client, launcher, "/api/settings", changes)
    assert refused.status_code == 403, refused.text
    name = next(iter(changes))
    assert refused.json()["error"].startswith(f"{name} can only be changed in the settings file")
    after = (
        launcher.settings_file.path.read_bytes() if launcher.settings_file.path.exists() else b""
    )
    assert after == before
    # Reset to defaults keeps what only the file may set, and a switch to the browser window
    # cannot bring a program in either.
    assert post(client, launcher, "/api/settings/reset", {}).status_code == 200
    schema = {s["name"]: s for s in client.get("/api/settings").json()["schema"]}
    assert schema["browser"]["readonly"] and schema["browser_flags"]["file_only"]


def test_flags_that_run_programs_are_refused_wherever_they_come_from(tmp_path):
    with pytest.raises(RefusedFlag, match="--renderer-cmd-prefix is refused"):
        browser_flags(tmp_path, ["--renderer-cmd-prefix=/bin/sh"])
    from desktop_llm.settings import Settings

    with pytest.raises(SettingsError, match="--utility-cmd-prefix is refused"):
        Settings().with_changes({"browser_flags": ["--utility-cmd-prefix=x"]})


def test_no_launch_code_on_any_command_line_while_the_browser_window_opens(launcher, tmp_path):
    """A poller reads every process's command line while the real Chromium window starts (as
    another local user can): none holds the launch code, and the window still gets in."""
    host = BrowserHost(CHROMIUM, tmp_path / "profile", QUIET_CHROMIUM)
    url = launcher.server.launch_url()
    code = url.split("=", 1)[1]
    seen: list[str] = []
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            for entry in os.listdir("/proc"):
                if entry.isdigit():
                    with contextlib.suppress(OSError):
                        seen.append(
                            Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
                        )
            time.sleep(0.01)

    with virtual_display() as display:
        os.environ["DISPLAY"] = display
        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        runner = threading.Thread(target=host.run, args=(url,), daemon=True)
        runner.start()
        deadline = time.monotonic() + 60
        while launcher.server.session._codes:  # the window redeemed its code
            assert time.monotonic() < deadline, "the browser never opened the app"
            time.sleep(0.1)
        pages = list((tmp_path / "profile").glob("launch-*.html"))
        host.close()
        runner.join(20)
        done.set()
        poller.join(5)
    assert seen and not [line for line in seen if code in line]
    assert any("launch-" in line and "chromium" in line.lower() for line in seen)
    for page in pages:
        assert not page.exists() or stat.S_IMODE(page.stat().st_mode) == 0o600
    assert not list((tmp_path / "profile").glob("launch-*.html"))  # deleted once read
    assert stat.S_IMODE((tmp_path / "profile").stat().st_mode) == 0o700


def test_the_apps_folders_and_files_are_private(launcher, app_home):
    old = os.umask(0o022)  # as a careless parent process would leave it
    try:
        launcher.bridge.history.create("hello")
        setup_logging(app_home.log_file)
        launcher.settings_file.update({"temperature": 0.5})
        app_home.create()
    finally:
        os.umask(old)
        import logging

        logging.getLogger().handlers.clear()
    for folder in (app_home.config, app_home.data, app_home.cache, app_home.logs):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in (app_home.history_file, app_home.log_file, app_home.settings_file):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("https://example.org/a b", 400),
        (" https://example.org/", 400),
        ("\nhttps://example.org/", 400),
        ("https://example.org/\x00", 400),
        ("javascript:alert(1)", 400),
        ("file:///etc/passwd", 400),
        ("https://", 400),
        ("https://example.org:notaport/", 400),
        (["https://example.org/"], 400),
    ],
)
def test_open_external_takes_only_plain_web_links(launcher, url, status):
    client = session(launcher)
    response = post(client, launcher, "/api/open-external", {"url": url})
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_a_huge_body_is_refused_before_it_is_read(launcher):
    """200 MB sent in 1 MB chunks (so the client holds none of it), once with its size declared
    and once without: the server stops at its limit, and this process (the server's) does not
    grow by the body's size."""
    import resource

    client = session(launcher)

    def body():
        chunk = b"x" * (1 << 20)
        for _ in range(200):
            yield chunk

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for declared in ({"content-length": str(200 << 20)}, {}):
        try:
            refused = client.post(
                "/api/settings", content=body(), headers={**csrf_header(launcher), **declared}
            )
        except httpx.TransportError:
            continue  # the server answered 413 and closed before the client finished sending
        assert refused.status_code == 413
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grew_mb < 40, f"grew by {grew_mb:.0f} MB"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/llm/feed", {"id": "abc", "pieces": []}),
        ("/api/history/create", {"kind": "chat", "title": "t", "document_name": {"a": 1}}),
        ("/api/models/cancel", {"id": "../../../etc"}),
        ("/api/settings", b"[" * 10_000 + b"]" * 10_000),
        ("/api/history/add", b"\xff\xfe not utf-8"),
        ("/api/open-external", {"url": 5}),
        ("/api/models/download", {"id": ["x"]}),
    ],
)
def test_malformed_bodies_get_a_4xx_with_one_sentence_never_500(launcher, path, body):
    client = session(launcher)
    response = post(client, launcher, path, body)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.json()["error"]


def test_a_non_ascii_cookie_is_refused_not_crashed(launcher):
    client = httpx.Client(base_url=launcher.server.origin)
    cookie = "desktop_llm_session=é€".encode()
    response = client.get("/api/info", headers={"cookie": cookie})
    assert response.status_code == 403


def test_short_api_keys_are_refused_and_a_new_key_applies_at_once(launcher):
    client = session(launcher)
    short = post(client, launcher, "/api/settings", {"api_key": "x"})
    assert short.status_code == 400 and "at least 16 characters" in short.json()["error"]
    enabled = post(client, launcher, "/api/settings", {"api_enabled": True})
    assert enabled.status_code == 200
    values = launcher.settings_file.load()
    api = f"http://127.0.0.1:{values.api_port}/v1/models"
    old_key = values.api_key
    assert httpx.get(api, headers={"authorization": f"Bearer {old_key}"}).status_code == 200
    new_key = "a-new-key-of-enough-length"
    assert post(client, launcher, "/api/settings", {"api_key": new_key}).status_code == 200
    assert httpx.get(api, headers={"authorization": f"Bearer {old_key}"}).status_code == 401
    assert httpx.get(api, headers={"authorization": f"Bearer {new_key}"}).status_code == 200
    assert (
        httpx.get(api, headers={"authorization": "Bearer é€ unicode".encode()}).status_code == 401
    )
    post(client, launcher, "/api/settings", {"api_enabled": False})


def test_a_symlinked_model_folder_is_left_out_and_diagnostics_says_why(launcher, tmp_path):
    outside = tmp_path / "elsewhere" / "linked-model"
    outside.mkdir(parents=True)
    (outside / "m.gguf").write_bytes(b"GGUF" + b"\0" * 100)
    (outside / "model.json").write_text(
        json.dumps(
            {
                "id": "linked-model",
                "name": "L",
                "engine": "wllama",
                "files": ["m.gguf"],
                "size": 104,
            }
        )
    )
    (launcher.store.root / "linked-model").symlink_to(outside, target_is_directory=True)
    client = session(launcher)
    assert "linked-model" not in [m["id"] for m in client.get("/api/models").json()]
    assert client.get("/models/linked-model/resolve/main/m.gguf").status_code == 404
    doctor = client.get("/api/doctor")
    assert doctor.status_code == 200
    problems = [p["problem"] for p in doctor.json()["problems"]]
    assert "The model folder linked-model is a link to another place; it is left out." in problems


MALFORMED_BODIES = {
    "not an object": b"[1, 2]",
    "an unknown field of the wrong type": json.dumps({"unexpected": {"a": [1]}}).encode(),
    "nested 10,000 deep": b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}",
    "not UTF-8": b'{"id": "\xff\xfe"}',
    "too large": b'{"id": "' + b"a" * (9 << 20) + b'"}',
}


def test_every_bridge_route_answers_malformed_bodies_with_a_4xx(launcher):
    """Every POST route the page can call, fed each kind of malformed body: 4xx with one
    sentence, never a 500."""
    client = session(launcher)
    posts = [
        route.path
        for route in launcher.server.app.routes
        if route.path.startswith("/api/") and "POST" in (getattr(route, "methods", None) or ())
    ]
    assert len(posts) > 15
    for path in posts:
        for kind, body in MALFORMED_BODIES.items():
            response = post(client, launcher, path, body)
            assert 400 <= response.status_code < 500, (path, kind, response.text[:200])
            assert response.json()["error"], (path, kind)
