"""`desktop-llm`: runs the app; subcommands look after models."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from desktop_llm import __version__
from desktop_llm.logs import setup_logging
from desktop_llm.models import commands as model_commands
from desktop_llm.paths import AppPaths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desktop-llm", description="A private, offline language model on your own machine."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="open the window, answer one prompt with the built-in model, exit 0 if it worked",
    )
    parser.add_argument(
        "--model",
        metavar="ID",
        help="start with this model (default: the `model` setting); with --self-test, test it "
        "instead of the built-in model",
    )
    parser.add_argument(
        "--host",
        choices=["auto", "webview", "browser"],
        help="the window to use (default: the `host` setting, normally auto)",
    )
    # `desktop-llm doctor` starts the app again with this to open a hidden probe window.
    parser.add_argument(
        "--probe-window", nargs=2, metavar=("URL_FILE", "STORAGE"), help=argparse.SUPPRESS
    )
    sub = parser.add_subparsers(dest="command")
    model_commands.add_parser(sub)
    sub.add_parser("paths", help="show where settings, models and logs are kept")
    doctor = sub.add_parser("doctor", help="what this machine can run, and how to fix problems")
    doctor.add_argument("--json", action="store_true", help="print the facts as JSON")
    doctor.add_argument(
        "--no-windows", action="store_true", help="skip opening the hidden probe windows"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    if os.name == "posix":
        os.umask(0o077)  # everything the app and its browser write is this user's alone
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C before a command set up its own handling
        print("desktop-llm: stopped.", file=sys.stderr)
        return 130


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    paths = AppPaths.from_env()
    if args.command is None:
        setup_logging(paths.log_file)
    else:
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.probe_window:
        from desktop_llm.hosts.webview import WebviewHost

        url_file, storage = map(Path, args.probe_window)
        url = url_file.read_text(encoding="utf-8")  # a private file, not argv: it holds a secret
        url_file.unlink()
        WebviewHost(storage, hidden=True).run(url)
        return 0
    if args.command == "models":
        return model_commands.run(args, paths)
    if args.command == "doctor":
        return _doctor(paths, args.json, not args.no_windows)
    if args.command == "paths":
        for name in ("config", "data", "cache", "logs"):
            print(f"{name:7} {getattr(paths, name)}")
        return 0
    return _run_app(paths, args.host, args.self_test, args.model)


def _run_app(paths: AppPaths, host: str | None, self_test: bool, model: str | None) -> int:
    from desktop_llm.launcher import Launcher, LaunchError
    from desktop_llm.models.embedded import EmbeddedModelError

    try:
        launcher = Launcher(paths, host, self_test=self_test, start_model=model)
        status = launcher.run()
    except (LaunchError, EmbeddedModelError) as exc:
        print(f"desktop-llm: {exc}", file=sys.stderr)
        return 2
    if not self_test:
        return status
    ok, detail = launcher.self_test_outcome()
    outcome = "passed" if ok else "FAILED"
    print(f"self-test {outcome}: {detail}", file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


def _doctor(paths: AppPaths, as_json: bool, probe: bool) -> int:
    import json

    from desktop_llm import doctor

    facts = doctor.collect(paths)
    if probe:
        from desktop_llm.probe import probe_windows

        probe_windows(paths, facts)
    found = doctor.problems(facts)
    if as_json:
        print(json.dumps({"facts": facts, "problems": found}, indent=2))
    else:
        print(doctor.report_text(facts, found))
    return 0
