"""`desktop-llm models ...`: list, pull, rm, verify, import, compile."""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from desktop_llm.models import catalog
from desktop_llm.models.importer import ModelImportError, import_mlc_folder, import_path
from desktop_llm.models.store import DownloadBusy, ModelStore, human_size, storage_error
from desktop_llm.paths import AppPaths

MLC_INSTALL_HINT = """mlc-llm is not installed (it is not on PyPI). Install it from MLC's index:
    pip install --pre -f https://mlc.ai/wheels mlc-llm-nightly-cpu mlc-ai-nightly-cpu
(see https://llm.mlc.ai/docs/install/mlc_llm.html), then run this command again."""


COMPILER_INSTALL_HINT = """The WebGPU compiler needs the `compile` extra and emscripten:
    pip install 'desktop-llm[compile]'    (apache-tvm, gguf, tokenizers)
    sudo apt install emscripten           (or your system's package)
then run this command again."""


def add_parser(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="the models on this machine, and downloads")
    commands = models.add_subparsers(dest="models_command", required=True)
    listing = commands.add_parser("list", help="list the models in the store")
    listing.add_argument(
        "--available", action="store_true", help="list the catalog of downloadable models instead"
    )
    pull = commands.add_parser("pull", help="download a model from the catalog (resumes)")
    pull.add_argument("id", help="a catalog id, see `models list --available`")
    rm = commands.add_parser(
        "rm", help="delete a model, or discard an unfinished download, and free its disk space"
    )
    rm.add_argument("id")
    verify = commands.add_parser("verify", help="re-check a model's files against their hashes")
    verify.add_argument("id")
    add = commands.add_parser("import", help="add a GGUF file or an MLC model folder you have")
    add.add_argument("path", type=Path)
    compile_ = commands.add_parser(
        "compile",
        help="make a WebGPU model of a llama-family GGUF file (or, with the optional mlc-llm, "
        "of a Hugging Face model folder)",
    )
    compile_.add_argument(
        "source", type=Path, help="a .gguf file, or a local Hugging Face model folder (mlc-llm)"
    )
    compile_.add_argument(
        "--context", type=int, default=2048, help="GGUF: the context window in tokens (2048)"
    )
    compile_.add_argument("--id", help="GGUF: the new model's id (default: from the file name)")
    compile_.add_argument("--quantization", default="q4f16_1", help="mlc-llm: default q4f16_1")
    compile_.add_argument("--conv-template", default="chatml", help="mlc-llm's chat template name")


def run(args: argparse.Namespace, paths: AppPaths) -> int:
    store = ModelStore(paths.models)
    command = args.models_command
    try:
        if command == "list":
            return _list_available() if args.available else _list(store)
        if command == "pull":
            return _pull(store, args.id)
        if command == "rm":
            return _remove(store, args.id)
        if command == "verify":
            problems = store.verify(args.id)
            for problem in problems:
                print(f"{args.id}: {problem}", file=sys.stderr)
            if not problems:
                print(f"{args.id}: every file matches its hash.")
            return 1 if problems else 0
        if command == "import":
            entry = import_path(store, args.path)
            print(f"Imported {entry.id} ({entry.engine}, {human_size(entry.size)}).")
            return 0
        if command == "compile":
            if args.source.suffix.lower() == ".gguf":
                return _compile_gguf(store, args.source, args.context, args.id)
            return _compile(store, args.source, args.quantization, args.conv_template)
    except FileNotFoundError as exc:
        print(f"desktop-llm: no model {exc.args[0]} in the store.", file=sys.stderr)
    except DownloadBusy:
        print(
            f"desktop-llm: {args.id} is being downloaded by another Desktop LLM window or "
            "process; cancel it there first.",
            file=sys.stderr,
        )
    except (ModelImportError, PermissionError) as exc:
        print(f"desktop-llm: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"desktop-llm: {storage_error(exc, store.root)}", file=sys.stderr)
    return 1


def _remove(store: ModelStore, model_id: str) -> int:
    if store.get(model_id) is not None:
        freed = store.delete(model_id)
        print(f"Deleted {model_id}; {freed.describe()}.")
        return 0
    freed = store.discard_partial(model_id)  # FileNotFoundError: neither
    print(f"Discarded the unfinished download of {model_id}; {freed.describe()}.")
    return 0


def _list(store: ModelStore) -> int:
    entries = store.list()
    if not entries:
        print("No models in the store yet; start the app once to add the built-in one.")
    for entry in entries:
        print(f"{entry.id:40} {entry.engine:7} {human_size(entry.size):>10}  {entry.name}")
    for model_id in store.partial_downloads():
        print(f"{model_id:40} unfinished download: `desktop-llm models pull {model_id}`")
    return 0


def _list_available() -> int:
    for entry in catalog.catalog():
        kind = "GPU" if entry.engine == "webllm" else "CPU"
        print(
            f"{entry.id:40} {kind}  about {human_size(entry.download_size):>9}  "
            f"needs {entry.memory_mb:,} MB  {entry.license}"
        )
    return 0


def _pull(store: ModelStore, model_id: str) -> int:
    entry = catalog.find(model_id)
    if entry is None:
        print(
            f"desktop-llm: {model_id} is not in the catalog; see `desktop-llm models list "
            "--available`, or add a file you have with `desktop-llm models import PATH`.",
            file=sys.stderr,
        )
        return 1
    # Imported here, not at the top: every `desktop-llm` start, the app's too, imports this module,
    # and huggingface_hub takes about 0.2-0.4 s to import.
    from tqdm import tqdm  # huggingface_hub's own progress bars

    from desktop_llm.models.download import (
        AlreadyInstalled,
        Cancelled,
        Download,
        DownloadError,
        Progress,
    )

    download = Download(store, entry)
    signals = {signal.SIGINT: 130, signal.SIGTERM: 143}
    stopped_by: list[signal.Signals] = []

    def stop(signum: int, _frame: object) -> None:
        stopped_by.append(signal.Signals(signum))
        download.stop()

    previous = {signum: signal.signal(signum, stop) for signum in signals}
    try:
        with tqdm(total=0, unit="B", unit_scale=True, desc=model_id, dynamic_ncols=True) as bar:

            def show(progress: Progress) -> None:
                if progress.total and bar.total != progress.total:
                    bar.total = progress.total
                bar.update(max(0, progress.done - bar.n))
                bar.set_postfix_str(progress.note, refresh=False)

            download.on_progress = show
            try:
                model = download.run()
            except AlreadyInstalled as exc:
                bar.close()
                print(exc)
                return 0
            except DownloadError as exc:
                bar.close()
                print(f"desktop-llm: {exc}", file=sys.stderr)
                return 1
            except Cancelled:
                bar.close()
                print(
                    f"Stopped; what was downloaded is kept, and `desktop-llm models pull "
                    f"{model_id}` resumes it.",
                    file=sys.stderr,
                )
                return signals[stopped_by[0]] if stopped_by else 1
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    print(f"{model.id} installed ({human_size(model.size)}), every file checked against its hash.")
    return 0


def _compile_gguf(store: ModelStore, source: Path, context: int, model_id: str | None) -> int:
    """Compile a GGUF with the app's own compiler (desktop_llm.compiler), no mlc-llm needed."""
    if importlib.util.find_spec("tvm") is None:
        print(COMPILER_INSTALL_HINT, file=sys.stderr)
        return 3
    from desktop_llm.compiler import CompileError, compile_gguf
    from desktop_llm.compiler.gguf_source import UnsupportedModel
    from desktop_llm.compiler.web_runtime import RuntimeBuildError

    def log(step: str) -> None:
        print(f"{source.name}: {step}", file=sys.stderr, flush=True)

    try:
        entry = compile_gguf(store, source, context_window=context, model_id=model_id, log=log)
    except (CompileError, UnsupportedModel, RuntimeBuildError) as exc:
        print(f"desktop-llm: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped; nothing was added to the store.", file=sys.stderr)
        # Ctrl-C can land inside a TVM object's constructor, whose __del__ then fails when the
        # object is collected and prints a traceback after the sentence above; the process is
        # ending, so such late complaints are dropped.
        sys.unraisablehook = lambda _unraisable: None
        return 130
    print(f"Compiled {entry.id} ({human_size(entry.size)}), a WebGPU model; pick it in the app.")
    return 0


def _compile(store: ModelStore, source: Path, quantization: str, template: str) -> int:
    """Compile with mlc-llm (convert_weight, gen_config, compile for WebGPU), then import."""
    if importlib.util.find_spec("mlc_llm") is None:
        print(MLC_INSTALL_HINT, file=sys.stderr)
        return 3
    if not (source / "config.json").is_file():
        print(f"desktop-llm: {source} is not a Hugging Face model folder.", file=sys.stderr)
        return 1
    name = f"{source.name}-{quantization}-MLC"
    with tempfile.TemporaryDirectory(dir=store.root.parent) as work:
        out = Path(work) / name
        mlc = [sys.executable, "-m", "mlc_llm"]
        steps = [
            [*mlc, "convert_weight", str(source), "--quantization", quantization, "-o", str(out)],
            [*mlc, "gen_config", str(source), "--quantization", quantization,
             "--conv-template", template, "-o", str(out)],
            [*mlc, "compile", str(out / "mlc-chat-config.json"), "--device", "webgpu",
             "-o", str(out / f"{name}-webgpu.wasm")],
        ]  # fmt: skip
        for step in steps:
            if subprocess.run(step).returncode != 0:
                print(f"desktop-llm: mlc_llm {step[3]} failed (see above).", file=sys.stderr)
                return 1
        entry = import_mlc_folder(store, out)
        shutil.rmtree(out, ignore_errors=True)
    print(f"Compiled and imported {entry.id}.")
    return 0
