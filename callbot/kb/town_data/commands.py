"""``callbot kb import annuaire|faq FILE`` and ``callbot kb export annuaire|faq FILE``.

Imports write one topic file (default ``nlu_data/topics/town_services.yml`` or
``town_faq.yml``), replaced whole on each import and only once the whole knowledge base loads
with it. Exit codes: 0 all imported, 1 some rows or records left out (each printed with its
line and reason; the rest is written), 2 nothing could be read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from callbot.config import Settings
from callbot.kb.town_data.checking import context, settle
from callbot.kb.town_data.topic_file import Rendered, TopicFile
from callbot.problems import DataError, Problem

EXIT_REJECTED = 1
DEFAULT_OUT = {"annuaire": "town_services.yml", "faq": "town_faq.yml"}


def _kb_path(args: argparse.Namespace, settings: Settings) -> Path:
    return Path(args.kb or settings.knowledge_base_path).resolve()


def _out_path(args: argparse.Namespace, kb_path: Path, kind: str) -> Path:
    return Path(args.out).resolve() if args.out else kb_path.parent / "topics" / DEFAULT_OUT[kind]


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _header(kind: str, source: Path) -> str:
    return (f"Written by `callbot kb import {kind} {source.name}`; the next import replaces "
            "this file.\nEdit the source and import it again, or edit here and stop importing.")


def _finish(args: argparse.Namespace, out: Path, document: TopicFile, rendered: Rendered,
            rejected_lines: list[str], what: str) -> int:
    for line in rejected_lines:
        print(line)
    questions = sum(len(t.questions) + sum(len(e.questions) for e in t.entries)
                    for t in document.topics)
    entries = sum(len(t.entries) for t in document.topics)
    counts = (f"{len(document.services)} services, {len(document.topics)} topics, "
              f"{entries} entries, {questions} questions")
    if not document.topics and not document.services:
        print(f"nothing to import from {what}; {_shown(out)} left as it was")
        return EXIT_REJECTED
    if args.dry_run:
        print(f"{_shown(out)} would get {counts} from {what} (--dry-run: not written)")
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(rendered.text, encoding="utf-8")
        print(f"{_shown(out)}: {counts} from {what}")
        if out.parent.name != "topics":
            print(f"note: {_shown(out)} is not in a topics/ folder beside the knowledge base; "
                  "the bot will not read it")
    if rejected_lines:
        print(f"{len(rejected_lines)} left out (see above)")
        return EXIT_REJECTED
    return 0


def cmd_import_faq(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.kb.town_data.faq_import import FaqImport, faq_rows
    from callbot.kb.town_data.sheets import SheetError, read_table

    source = Path(args.file)
    kb_path = _kb_path(args, settings)
    out = _out_path(args, kb_path, "faq")
    table = read_table(source)
    try:
        rows = faq_rows(table)
    except SheetError as exc:
        raise DataError([Problem(str(source), exc.line, str(exc))]) from None
    ctx = context(kb_path, out)
    job = FaqImport(ctx, rows)
    job.check_rows()
    document, rendered = settle(ctx, job.build(_header("faq", source)), job.rejected)
    rejected = [f"{source}:{line}: rejected: {reason}" for line, reason in sorted(job.rejected.items())]
    read_as = f", {table.encoding}, '{table.delimiter}'" if table.encoding else ""
    return _finish(args, out, document, rendered, rejected, f"{len(rows)} rows{read_as}")


def cmd_import_annuaire(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.kb.town_data.annuaire_format import RecordError, records_of
    from callbot.kb.town_data.annuaire_import import read_records

    source = Path(args.file)
    kb_path = _kb_path(args, settings)
    out = _out_path(args, kb_path, "annuaire")
    try:
        records = records_of(json.loads(source.read_bytes().decode("utf-8-sig")))
    except json.JSONDecodeError as exc:
        raise DataError([Problem(str(source), exc.lineno, f"invalid JSON: {exc.msg}")]) from None
    except (UnicodeDecodeError, RecordError) as exc:
        raise DataError([Problem(str(source), 1, str(exc))]) from None
    ctx = context(kb_path, out)
    job = read_records(records, ctx)
    document, rendered = settle(ctx, job.build(_header("annuaire", source)), job.rejected)

    def named(number: int) -> str:
        raw = records[number - 1]
        name = raw.get("nom") if isinstance(raw, dict) else None
        return f"record {number} ({json.dumps(name, ensure_ascii=False)})" if name else f"record {number}"

    rejected = [f"{source}: {named(n)}: rejected: {reason}" for n, reason in sorted(job.rejected.items())]
    for note in job.notes:
        print(f"{source}: note: {note}")
    return _finish(args, out, document, rendered, rejected, f"{len(records)} records")


def cmd_export_faq(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.kb.loader import load_knowledge_base
    from callbot.kb.town_data.export import FAQ_HEADER, faq_rows
    from callbot.kb.town_data.sheets import write_table

    kb = load_knowledge_base(_kb_path(args, settings))
    only = Path(args.only).resolve() if args.only else None
    rows = faq_rows(kb, only)
    write_table(Path(args.file), FAQ_HEADER, rows)
    print(f"{args.file}: {len(rows)} rows from {len({r[0] for r in rows})} topics")
    return 0


def cmd_export_annuaire(args: argparse.Namespace, settings: Settings) -> int:
    from callbot.kb.loader import load_knowledge_base
    from callbot.kb.town_data.annuaire_format import record_json
    from callbot.kb.town_data.export import annuaire_records

    kb = load_knowledge_base(_kb_path(args, settings))
    records = [record_json(r) for r in annuaire_records(kb)]
    Path(args.file).write_text(json.dumps({"service": records}, ensure_ascii=False, indent=2) + "\n",
                               encoding="utf-8")
    print(f"{args.file}: {len(records)} services")
    return 0


def register(kb: argparse._SubParsersAction) -> None:
    """Add ``import`` and ``export`` under ``callbot kb``."""
    kb_file = {"help": "the main knowledge-base file (default: the configured kb.yml)"}
    imports = kb.add_parser("import", help="town data into a topic file").add_subparsers(
        dest="kb_import", required=True)
    for kind, func, what in (("annuaire", cmd_import_annuaire, "service-public.fr annuaire JSON"),
                             ("faq", cmd_import_faq, "FAQ sheet: .csv, .xlsx or .ods")):
        command = imports.add_parser(kind, help=what)
        command.add_argument("file", help=what)
        command.add_argument("--out", help=f"topic file to write (default: topics/{DEFAULT_OUT[kind]} "
                             "beside the knowledge base)")
        command.add_argument("--kb", **kb_file)
        command.add_argument("--dry-run", action="store_true", help="report, write nothing")
        command.set_defaults(func=func)
    exports = kb.add_parser("export", help="the knowledge base to town data formats").add_subparsers(
        dest="kb_export", required=True)
    faq = exports.add_parser("faq", help="topics and questions to .csv, .xlsx or .ods")
    faq.add_argument("file")
    faq.add_argument("--only", metavar="TOPIC_FILE", help="only the topics read from this file")
    faq.add_argument("--kb", **kb_file)
    faq.set_defaults(func=cmd_export_faq)
    annuaire = exports.add_parser("annuaire", help="services to annuaire JSON")
    annuaire.add_argument("file")
    annuaire.add_argument("--kb", **kb_file)
    annuaire.set_defaults(func=cmd_export_annuaire)
