"""Check a generated topic file with the real loader before it is written.

``context`` reads the knowledge base as it would be without the file being replaced (its
services, topics and questions are what imported rows must fit beside). ``settle`` renders
the draft, loads the whole knowledge base with the new text, and turns every problem found in
that text back into the rows or records it came from; those are left out and the rest is
tried again, so what is written always loads. A problem in another file is not ours to fix:
it stops the import with nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase
from callbot.kb.town_data.topic_file import Rendered, TopicFile, render
from callbot.nlu.text import features_text
from callbot.problems import DataError, Problem

MAX_PASSES = 6


@dataclass(frozen=True)
class Context:
    """The knowledge base without the file being (re)written."""

    kb: KnowledgeBase
    kb_path: Path
    out_path: Path
    asked: dict[str, str]  # features_text(question) → 'topic' or 'topic/entry' asking it

    def where(self, topic_id: str) -> str:
        topic = self.kb.topics[topic_id]
        return _relative(Path(topic.source)) if topic.source else "the knowledge base"


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def context(kb_path: Path, out_path: Path) -> Context:
    """Raises ``DataError`` when the rest of the knowledge base does not load."""
    kb = load_knowledge_base(kb_path, overrides={out_path: ""})
    asked: dict[str, str] = {}
    for topic in kb.topics.values():
        for question in topic.questions:
            asked.setdefault(features_text(question), topic.id)
        for entry in topic.entries:
            for question in entry.questions:
                asked.setdefault(features_text(question), f"{topic.id}/{entry.id}")
    return Context(kb, kb_path, out_path, asked)


def problems_with(ctx: Context, text: str) -> list[Problem]:
    try:
        load_knowledge_base(ctx.kb_path, overrides={ctx.out_path: text})
    except DataError as exc:
        return exc.problems
    return []


def settle(ctx: Context, build: Callable[[dict[int, str]], TopicFile],
           rejected: dict[int, str]) -> tuple[TopicFile, Rendered]:
    """Build from the sources not yet rejected until the text loads; ``rejected`` (source →
    reason) is filled in place. ``build`` adds its own rejections to the mapping it is given."""
    for _ in range(MAX_PASSES):
        document = build(rejected)
        rendered = render(document)
        problems = problems_with(ctx, rendered.text)
        if not problems:
            return document, rendered
        ours = [p for p in problems if Path(p.file) == ctx.out_path]
        others = [p for p in problems if Path(p.file) != ctx.out_path]
        untraced = [p for p in ours if not rendered.sources_of(p.line)]
        if others or untraced:
            raise DataError(others + untraced)
        for problem in ours:
            for source in rendered.sources_of(problem.line):
                rejected.setdefault(source, problem.message)
    raise DataError([Problem(str(ctx.out_path), 0, "the generated file still does not load "
                             f"after {MAX_PASSES} passes; nothing was written")])
