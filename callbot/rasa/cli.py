"""``callbot rasa setup|train|serve|compare`` and ``callbot nlu compare``.

Imports of the Rasa machinery stay inside the command functions so ``callbot --help`` is fast.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from callbot.config import REPO_ROOT, Settings

EXIT_FAILED = 2
DEFAULT_QUESTIONS = REPO_ROOT.parent / "shared" / "benchmarks" / "nlu" / "external_questions.tsv"


def _with_overrides(args: argparse.Namespace, settings: Settings) -> Settings:
    updates = {}
    if getattr(args, "home", None):
        updates["rasa_home"] = Path(args.home).expanduser()
    if getattr(args, "python", None):
        updates["rasa_python"] = args.python
    if getattr(args, "epochs", None):
        updates["rasa_epochs"] = args.epochs
    return settings.model_copy(update={"nlu": settings.nlu.model_copy(update=updates)})


def _failed(exc: Exception) -> int:
    print(f"callbot rasa: {exc}", file=sys.stderr)
    return EXIT_FAILED


def cmd_setup(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.rasa.progress import RasaSetupError
    from callbot.rasa.stack import ensure_env

    settings = _with_overrides(args, settings)
    try:
        env = ensure_env(settings, quiet=args.quiet)
    except RasaSetupError as exc:
        return _failed(exc)
    if not args.quiet:
        print(f"Rasa ready: {env.rasa}")
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.rasa.progress import RasaSetupError
    from callbot.rasa.stack import train_model

    settings = _with_overrides(args, settings)
    try:
        model = train_model(settings, force=args.force)
    except RasaSetupError as exc:
        return _failed(exc)
    print(json.dumps({"model": str(model.path), "cached": model.cached,
                      "train_seconds": round(model.train_seconds, 2)}))
    return 0


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.rasa.progress import RasaSetupError
    from callbot.rasa.stack import start_server, train_model

    settings = _with_overrides(args, settings)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        model = train_model(settings)
        print(f"callbot rasa: starting the server with {model.path.name} …", flush=True)
        server = start_server(settings, model.path, port=args.port, quiet=False)
    except RasaSetupError as exc:
        return _failed(exc)
    try:
        print(f"Rasa NLU ready at {server.url} (POST {server.url}/model/parse); "
              f"Ctrl-C to stop", flush=True)
        while not stop.wait(1.0):
            if server.process is None or server.process.poll() is not None:
                print(f"callbot rasa: the server stopped:\n{server.log_tail()}", file=sys.stderr)
                return EXIT_FAILED
    finally:
        server.stop()
    print("callbot rasa: server stopped", flush=True)
    return 0


def cmd_compare(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.nlu.compare import compare, format_table
    from callbot.rasa.progress import RasaSetupError

    settings = _with_overrides(args, settings)
    paths = [Path(p) for p in args.files] or [DEFAULT_QUESTIONS]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        return _failed(FileNotFoundError(f"no such question file: {', '.join(missing)}"))
    try:
        results = compare(settings, paths, folds=args.folds, quiet=not args.progress)
    except RasaSetupError as exc:
        return _failed(exc)
    print(format_table(results))
    print(json.dumps(results, ensure_ascii=False), flush=True)
    return 0


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", help="folder of the venv, projects, models (nlu.rasa_home)")


def _add_compare(group: argparse._SubParsersAction) -> None:
    compare = group.add_parser("compare", help="embedded vs Rasa: accuracy, F1, latency, memory")
    compare.add_argument("files", nargs="*", help=f"TSV files: intent<TAB>utterance "
                                                  f"(default {DEFAULT_QUESTIONS})")
    compare.add_argument("--folds", type=int, default=5, help="k-fold CV (0 to skip)")
    compare.add_argument("--progress", action="store_true", help="show Rasa's long steps")
    _add_common(compare)
    compare.set_defaults(func=cmd_compare)


def _nlu_group(subparsers: argparse._SubParsersAction) -> argparse._SubParsersAction | None:
    """The sub-commands of the existing ``callbot nlu`` group, if there is one."""
    nlu = subparsers.choices.get("nlu")
    actions = getattr(nlu, "_subparsers", None)
    return next((a for a in getattr(actions, "_group_actions", [])
                 if isinstance(a, argparse._SubParsersAction)), None)


def register(subparsers: argparse._SubParsersAction, bench_subparsers: object) -> None:
    rasa = subparsers.add_parser("rasa", help="optional Rasa 3.6 server to understand callers: "
                                 "setup, train, serve, compare").add_subparsers(
        dest="rasa_command", required=True)
    setup = rasa.add_parser("setup", help="create the Rasa venv (Python 3.10) and install Rasa")
    setup.add_argument("--python", help="interpreter for the venv (default: pyenv's 3.10)")
    setup.add_argument("--quiet", action="store_true", help="print nothing but errors")
    _add_common(setup)
    setup.set_defaults(func=cmd_setup)
    train = rasa.add_parser("train", help="write the Rasa project from nlu_data/ and train it")
    train.add_argument("--force", action="store_true", help="ignore the cached model")
    train.add_argument("--epochs", type=int, help="DIET epochs (nlu.rasa_epochs)")
    _add_common(train)
    train.set_defaults(func=cmd_train)
    serve = rasa.add_parser("serve", help="rasa run --enable-api on 127.0.0.1, model loaded")
    serve.add_argument("--port", type=int, help="default: the port of nlu.rasa_url")
    _add_common(serve)
    serve.set_defaults(func=cmd_serve)
    _add_compare(rasa)
    nlu = _nlu_group(subparsers)
    if nlu is not None:
        _add_compare(nlu)
