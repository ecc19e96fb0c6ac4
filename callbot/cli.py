"""The ``callbot`` console script: the parser, the core subcommands, logging and exit codes.

Other modules add their subcommands through ``EXTENSIONS``; the top help is ``DESCRIPTION``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from callbot.config import REPO_ROOT, Settings, load_settings
from callbot.problems import DataError

if TYPE_CHECKING:
    from callbot.conversation.session import Conversation
    from callbot.conversation.turn import BotTurn

EXIT_DATA_ERROR = 2
#: One key of the phone pad: a caller line made of just one of these is a key press.
DTMF_KEYS = frozenset("0123456789*#")

DESCRIPTION = """\
Callbot answers a town hall's phone: it understands the caller's question, answers from the
town's knowledge base (opening hours, documents, services) and hands the call to the
switchboard when it cannot help or when the caller presses 0."""
EPILOG = """\
The two commands to start with:
  callbot serve   answer phone calls: the service to keep running on the server
  callbot chat    try the bot by typing, as a caller would speak

"callbot doctor" checks that this machine is ready; "callbot COMMAND --help" details a command."""
VERBOSE_HELP = "more detail: debug messages, and each turn's JSON in chat"
#: The order of ``callbot --help``: what a town's technician runs first, developers' tools last.
COMMAND_ORDER = ("serve", "chat", "doctor", "web", "users", "call", "kb", "campaign", "scenarios",
                 "models", "store", "nlu", "rasa", "bench")


def _print_json(data: object) -> None:
    print(json.dumps(data, ensure_ascii=False), flush=True)


def _fixed_clock(now: str | None) -> Callable[[], datetime] | None:
    if not now:
        return None
    moment = datetime.fromisoformat(now).replace(tzinfo=None)
    return lambda: moment


def _read_lines(stream: Iterable[bytes]) -> Iterable[str]:
    """Input lines decoded as UTF-8; undecodable bytes are replaced, never fatal."""
    for raw in stream:
        yield raw.decode("utf-8", errors="replace").rstrip("\r\n")


def _version() -> str:
    """The installed distribution's version; a bare checkout has only pyproject's."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("callbot")
    except PackageNotFoundError:
        import tomllib

        with (REPO_ROOT / "pyproject.toml").open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])


def _caller_turn(conversation: Conversation, line: str) -> BotTurn:
    """One typed caller line: a lone key (0-9, *, #) is pressed, an empty line is a silence,
    anything else is words; the same in ``--script`` and at the prompt."""
    key = line.strip()
    if key in DTMF_KEYS:
        return conversation.dtmf(key)
    return conversation.hear(line) if key else conversation.silence()


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.brain import Brain

    brain = Brain.load(settings)
    conversation = brain.conversation(_fixed_clock(args.now))
    if args.record is not False and (args.record or settings.store.url):
        from callbot.store.calllog import attach_call_log

        attach_call_log(conversation, settings.store, settings.timezone)
    greeting = conversation.start()
    if args.script:
        with (open(0, "rb", closefd=False) if args.script == "-"  # noqa: SIM115
              else Path(args.script).open("rb")) as source:
            for line in _read_lines(source):
                if not line.strip():
                    continue
                if conversation.ended:
                    break
                _print_json(_caller_turn(conversation, line).to_json())
        return 0
    print(f"bot> {greeting.text}")
    while not conversation.ended:
        try:
            line = input("vous> ")
        except (EOFError, KeyboardInterrupt):
            print()
            break
        turn = _caller_turn(conversation, line)
        print(f"bot> {turn.text}")
        if args.verbose:
            print(f"     {json.dumps(turn.to_json(), ensure_ascii=False)}")
        if turn.transfer:
            print(f"     [transfert vers le standard : {turn.transfer.reason}]")
    return 0


def cmd_nlu_parse(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.brain import Brain

    nlu = Brain.load_parser(settings)
    if args.batch:
        for line in _read_lines(sys.stdin.buffer):
            _print_json(nlu.parse(line).to_dict())
        return 0
    if not args.text:
        print("callbot nlu parse: give TEXT or --batch", file=sys.stderr)
        return EXIT_DATA_ERROR
    _print_json(nlu.parse(" ".join(args.text)).to_dict())
    return 0


def cmd_nlu_train(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams
    from callbot.nlu.training_data import load_training_data

    data = load_training_data(settings.data_dir)
    for warning in data.warnings:
        print(warning, file=sys.stderr)
    params = EmbeddedNluParams(fallback_threshold=settings.nlu.fallback_threshold)
    nlu = EmbeddedNLU.train(data, params) if args.force else EmbeddedNLU.load_or_train(
        data, settings.nlu.cache_dir, params)
    _print_json({"examples": len(data.examples), "intents": len(data.intents),
                 "train_seconds": round(nlu.train_seconds, 3), "fingerprint": data.fingerprint})
    return 0


def cmd_nlu_eval(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.brain import Brain
    from callbot.conversation.policy import answer_rule
    from callbot.kb.loader import load_knowledge_base
    from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams
    from callbot.nlu.evaluation import cross_validate, evaluate, read_tsv
    from callbot.nlu.training_data import load_training_data

    nlu = Brain.load_parser(settings)
    answers = answer_rule(Brain.policy_params_of(settings))
    rule_text = f"threshold {settings.nlu.answer_threshold}"
    figures: dict[str, object] = {}
    kb = load_knowledge_base(settings.knowledge_base_path)
    redirects = frozenset(t.id for t in kb.topics.values() if t.is_redirect)
    for path in args.files:
        report = evaluate(nlu.parse, read_tsv(Path(path)), answers, redirects)
        print(f"== {path}: {report.examples} questions ({report.out_of_scope} out of scope)")
        print(f"in-scope accuracy     {report.accuracy:7.1%}")
        print(f"macro-F1              {report.macro_f1:7.3f}")
        print(f"out-of-scope recall   {report.out_of_scope_recall:7.1%}")
        print(f"confident-wrong rate  {report.confident_wrong_rate:7.1%}  ({rule_text})")
        print(f"answered correctly    {report.answered_correct_rate:7.1%}  (of in-scope topics)")
        print(f"parse p50 / p95       {report.parse_p50_ms:.2f} / {report.parse_p95_ms:.2f} ms")
        for gold, predicted, count in report.confusions:
            print(f"  confused {gold} → {predicted} ×{count}")
        if args.verbose:
            for error in report.errors:
                print(f"  ✗ {error}")
        figures[path] = {k: v for k, v in report.to_dict().items() if k != "errors"}
    if args.folds:
        data = load_training_data(settings.data_dir)
        params = EmbeddedNluParams(fallback_threshold=settings.nlu.fallback_threshold)
        cv = cross_validate(data, lambda d: EmbeddedNLU.train(d, params), folds=args.folds,
                            answers=answers)
        print(f"== {cv.folds}-fold cross-validation on {settings.data_dir}: "
              f"accuracy {cv.accuracy:.1%} ({cv.accuracy_after_fallback:.1%} above the fallback "
              f"threshold), macro-F1 {cv.macro_f1:.3f}")
        print(f"held out: confident-wrong {cv.confident_wrong_rate:.2%}, answered correctly "
              f"{cv.answered_correct_rate:.1%}, out of scope not answered "
              f"{cv.out_of_scope_recall:.1%} ({rule_text})")
        figures["cross_validation"] = asdict(cv)
    _print_json(figures)
    return 0


def cmd_bench_knowledge(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.knowledge_bench import bench_knowledge

    _print_json(bench_knowledge(settings))
    return 0


def cmd_kb_validate(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.kb.loader import load_knowledge_base

    path = Path(args.path) if args.path else settings.knowledge_base_path
    kb = load_knowledge_base(path)
    for warning in kb.warnings:
        print(warning)
    entries = sum(len(t.entries) for t in kb.topics.values())
    redirects = sum(t.is_redirect for t in kb.topics.values())
    print(f"{path}: OK — {len(kb.files)} file(s), {len(kb.services)} services, "
          f"{len(kb.topics) - redirects} topics + {redirects} redirections, {entries} entries, "
          f"{len(kb.warnings)} warning(s), revision {kb.revision}")
    return 0


def cmd_scenarios_run(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.brain import Brain
    from callbot.scenarios import load_scenarios, run_scenario

    brain = Brain.load(settings)
    scenarios = load_scenarios(Path(args.path))
    failures = 0
    for scenario in scenarios:
        result = run_scenario(brain, scenario)
        print(f"{'PASS' if result.passed else 'FAIL'}  {scenario.name}  ({scenario.source})")
        for failure in result.failures:
            print(f"      {failure}")
        failures += not result.passed
    print(f"{len(scenarios) - failures} passed, {failures} failed")
    return 1 if failures else 0


def cmd_bench_nlu(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.bench import bench_nlu

    _print_json(bench_nlu(settings, args.repeat))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callbot", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help=VERBOSE_HELP)
    parser.set_defaults(log_level="WARNING")  # long-running commands set "INFO"
    sub = parser.add_subparsers(dest="command", required=True, title="commands",
                                metavar="COMMAND")

    chat = sub.add_parser("chat", help="try the bot by typing, as a caller would speak")
    chat.add_argument("--script", help="file of caller lines ('-' for stdin), one turn each: "
                      "a lone 0-9, * or # is a key press, blank lines are skipped; prints JSON "
                      "lines (at the prompt, an empty line is a silence)")
    chat.add_argument("--now", help='fix the clock the bot answers with (opening hours), e.g. '
                      '"2026-12-05T10:30"; the call log keeps the real time')
    chat.add_argument("--record", action=argparse.BooleanOptionalAction, default=None,
                      help="log the call in the call log (default: when store.url is set)")
    chat.set_defaults(func=cmd_chat)

    nlu = sub.add_parser("nlu", help="how the bot understands questions: train, parse, evaluate"
                         ).add_subparsers(dest="nlu_command", required=True)
    parse = nlu.add_parser("parse", help="parse text (Rasa's JSON shape)")
    parse.add_argument("text", nargs="*", help="the caller's words (or --batch)")
    parse.add_argument("--batch", action="store_true", help="one utterance per stdin line")
    parse.set_defaults(func=cmd_nlu_parse)
    train = nlu.add_parser("train", help="train and cache the model")
    train.add_argument("--force", action="store_true", help="ignore the cache")
    train.set_defaults(func=cmd_nlu_train)
    evaluation = nlu.add_parser("eval", help="accuracy, F1, out-of-scope, confident-wrong")
    evaluation.add_argument("files", nargs="*", help="TSV files: intent<TAB>utterance")
    evaluation.add_argument("--folds", type=int, default=5, help="k-fold CV (0 to skip)")
    evaluation.set_defaults(func=cmd_nlu_eval)

    kb = sub.add_parser("kb", help="the town's knowledge base: validate, import, export"
                        ).add_subparsers(dest="kb_command", required=True)
    validate = kb.add_parser("validate", help="report every problem with file and line")
    validate.add_argument("path", nargs="?", help="knowledge base file (default: the configured "
                          "one, kb_path or DATA_DIR/kb.yml)")
    validate.set_defaults(func=cmd_kb_validate)
    from callbot.kb.town_data.commands import register as register_town_data

    register_town_data(kb)  # kb import|export annuaire|faq

    scenarios = sub.add_parser("scenarios", help="replay test conversations, report which pass"
                               ).add_subparsers(dest="scenarios_command", required=True)
    run = scenarios.add_parser("run", help="run scenario files, report pass/fail")
    run.add_argument("path", nargs="?", default="scenarios",
                     help="scenario file or folder (default: scenarios)")
    run.set_defaults(func=cmd_scenarios_run)

    bench = sub.add_parser("bench", help="measurements for developers, each ending with a JSON "
                           "line").add_subparsers(dest="bench_command", required=True)
    bench_nlu_parser = bench.add_parser("nlu", help="training time, parse latency, memory")
    bench_nlu_parser.add_argument("--repeat", type=int, default=3,
                                  help="trainings to time, the median is reported (default 3)")
    bench_nlu_parser.set_defaults(func=cmd_bench_nlu)
    bench.add_parser("knowledge", help="topics found as the knowledge base grows: "
                     "cross-validation, held-out topics, broad set, cost").set_defaults(
        func=cmd_bench_knowledge)
    for register in _extension_registrars():
        register(sub, bench)
    _accept_verbose_everywhere(parser)
    order = {name: index for index, name in enumerate(COMMAND_ORDER)}
    sub._choices_actions.sort(key=lambda action: order.get(action.dest, len(order)))
    return parser


def _accept_verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """``-v`` after any subcommand too (``callbot chat -v``). Suppressed as a default so a
    subcommand without it leaves the top level's value, ``callbot -v chat``, alone."""
    seen: set[int] = set()
    pending = [parser]
    while pending:
        for action in pending.pop()._actions:
            if not isinstance(action, argparse._SubParsersAction):
                continue
            for child in action.choices.values():
                if id(child) not in seen and "-v" not in child._option_string_actions:
                    seen.add(id(child))
                    child.add_argument("-v", "--verbose", action="store_true",
                                       default=argparse.SUPPRESS, help=VERBOSE_HELP)
                    pending.append(child)


#: Modules that add their own subcommands: ``register(subparsers, bench_subparsers)``.
#: Each keeps heavy imports inside its command functions so ``callbot --help`` stays fast.
EXTENSIONS: tuple[str, ...] = (
    "callbot.rasa.cli",
    "callbot.speech.cli",
    "callbot.speech.bench",
    "callbot.voice_cli",
    "callbot.voice_bench",
    "callbot.vad_bench",
    "callbot.amd_bench",
    "callbot.load_bench",
    "callbot.sip_bench",
    "callbot.web.commands",
    "callbot.fuzz.bench",
    "callbot.fuzz.sip_bench",
    "callbot.errands.bench",
    "callbot.campaigns.commands",
    "callbot.doctor",
)


def _extension_registrars() -> list[Callable[..., None]]:
    import importlib

    return [importlib.import_module(name).register for name in EXTENSIONS]


def log_level(args: argparse.Namespace) -> str:
    """INFO for the long-running commands (``serve`` logs where it listens), else WARNING;
    DEBUG with ``-v``."""
    return "DEBUG" if args.verbose else args.log_level


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logger.remove()
    logger.add(sys.stderr, level=log_level(args))
    try:
        settings = load_settings()
        return args.func(args, settings)
    except DataError as exc:
        print(f"callbot: {len(exc.problems)} problem(s) found:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_DATA_ERROR
    except (OSError, ValueError) as exc:
        print(f"callbot: {exc}", file=sys.stderr)
        return EXIT_DATA_ERROR


if __name__ == "__main__":
    sys.exit(main())
