"""The FAQ editor's work, without HTTP: read a topic, preview, validate, save, roll back.

A save is refused, with the reason, when someone else saved the same topic since the
editor opened it, when the knowledge base would not pass ``callbot kb validate``, or
when new example questions would lower the NLU's cross-validation accuracy by more
than ``web.cv_guard_points`` (estimated where the edit acts: ``callbot.nlu.guard``).
An answer-only edit touches no example, so it needs no guard and no training. When
examples change, the model for the new data is trained into the shared cache while the
guard runs, *before* the files change, so bot processes load it instead of training.
Then both files are replaced atomically, the new revision is stored (who, when, diff),
and every bot process picks the change up on its next turn.
"""

from __future__ import annotations

import asyncio
import difflib
import hashlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.config import Settings
from callbot.kb.answers import answer_topic
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase
from callbot.kb.speakable import to_spoken
from callbot.nlu import guard
from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams
from callbot.nlu.training_data import TrainingData, load_training_data
from callbot.problems import DataError
from callbot.store import revisions
from callbot.store.accounts import audit
from callbot.web.kb_text import read_examples, replace_file, set_topic_fields, write_examples

MAX_EXAMPLE_CHARS = 200


@dataclass(frozen=True)
class TopicView:
    id: str
    label: str
    answer: str
    details: str
    service: str
    examples: tuple[str, ...]  # from the training files, read-only here
    editor_examples: tuple[str, ...]  # added from the editor, editable
    version: str  # changes whenever someone saves this topic


@dataclass(frozen=True)
class SaveOutcome:
    ok: bool
    message: str
    problems: tuple[str, ...] = ()
    conflict: bool = False
    revision_id: int | None = None


@dataclass
class FaqEditor:
    settings: Settings
    engine: AsyncEngine
    #: Tests and fuzzing: accuracy of whole data, instead of the guard's estimate.
    accuracy_of: Callable[[TrainingData], float] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _trained_for: str | None = None  # the examples text whose model is in the cache

    @property
    def kb_path(self) -> Path:
        return self.settings.knowledge_base_path

    @property
    def examples_path(self) -> Path:
        nlu_dir = self.settings.data_dir / "nlu"
        return (nlu_dir if nlu_dir.is_dir() else self.settings.data_dir) / "editor.yml"

    def read_files(self) -> tuple[str, str]:
        examples = self.examples_path.read_text("utf-8") if self.examples_path.exists() else ""
        return self.kb_path.read_text("utf-8"), examples

    def knowledge_base(self) -> KnowledgeBase:
        return load_knowledge_base(self.kb_path)

    def topic(self, topic_id: str) -> TopicView:
        kb_text, examples_text = self.read_files()
        kb = load_knowledge_base(self.kb_path, kb_text)
        topic = kb.topics[topic_id]
        data = load_training_data(self.settings.data_dir)
        editor = tuple(read_examples(examples_text).get(topic_id, []))
        mine = str(self.examples_path)
        return TopicView(topic.id, topic.label, topic.answer, topic.details, topic.service,
                         tuple(e.text for e in data.examples
                               if e.intent == topic_id and not e.source.startswith(mine)),
                         editor, _version(kb_text, examples_text, topic_id, self.kb_path))

    def now(self) -> datetime:
        return datetime.now(ZoneInfo(self.settings.timezone)).replace(tzinfo=None)

    def candidate(self, topic_id: str, fields: dict[str, str]) -> tuple[str, KnowledgeBase]:
        """The knowledge-base text with these fields; ``DataError`` if it does not validate."""
        kb_text, _ = self.read_files()
        new_text = set_topic_fields(self.kb_path, kb_text, topic_id, fields)
        return new_text, load_knowledge_base(self.kb_path, new_text)

    def preview(self, topic_id: str, fields: dict[str, str]) -> tuple[str, str]:
        """(answer, details) as they would be spoken now, slots filled, numbers in words."""
        _, kb = self.candidate(topic_id, fields)
        answer = answer_topic(kb, topic_id, self.now())
        return to_spoken(answer.text), to_spoken(answer.details)

    async def save(self, user: str, topic_id: str, base_version: str, fields: dict[str, str],
                   editor_examples: list[str], comment: str = "") -> SaveOutcome:
        async with self._lock:
            kb_text, examples_text = self.read_files()
            await self._record_outside_changes(kb_text, examples_text)
            if _version(kb_text, examples_text, topic_id, self.kb_path) != base_version:
                last = await revisions.head(self.engine)
                who = f"{last.author} at {last.created_at:%H:%M:%S}" if last else "someone"
                return SaveOutcome(False, f"'{topic_id}' was changed by {who} since you opened "
                                   "it; nothing was saved. Reload the topic, then apply your "
                                   "change again.", conflict=True)
            try:
                new_kb_text, kb = self.candidate(topic_id, fields)
            except DataError as exc:
                return _refused("The knowledge base would not be valid", exc)
            examples = read_examples(examples_text)
            examples[topic_id] = _clean_examples(editor_examples)
            new_examples_text = write_examples(examples)
            if new_examples_text == write_examples(read_examples(examples_text)):
                new_examples_text = examples_text  # unchanged: the file is left alone
            else:
                refusal = await self._guard(new_examples_text)
                if refusal:
                    return refusal
            return await self._publish(user, comment or f"edit {topic_id}", new_kb_text,
                                       new_examples_text, kb.revision, [topic_id])

    async def add_example(self, user: str, intent: str, text: str) -> SaveOutcome:
        """The dashboard's one-click "add as example of intent …"."""
        async with self._lock:
            kb_text, examples_text = self.read_files()
            await self._record_outside_changes(kb_text, examples_text)
            examples = read_examples(examples_text)
            examples[intent] = _clean_examples([*examples.get(intent, []), text])
            new_examples_text = write_examples(examples)
            refusal = await self._guard(new_examples_text)
            if refusal:
                return refusal
            kb = load_knowledge_base(self.kb_path, kb_text)
            return await self._publish(user, f"example for {intent}: {text[:80]}", kb_text,
                                       new_examples_text, kb.revision, [intent])

    async def rollback(self, user: str, revision_id: int) -> SaveOutcome:
        target = await revisions.get(self.engine, revision_id)
        if target is None:
            return SaveOutcome(False, f"there is no revision {revision_id}")
        async with self._lock:
            kb_text, examples_text = self.read_files()
            await self._record_outside_changes(kb_text, examples_text)
            try:
                kb = load_knowledge_base(self.kb_path, target.kb_text)
            except DataError as exc:  # e.g. the NLU intents changed since
                return _refused(f"Revision {revision_id} is no longer valid", exc)
            return await self._publish(user, f"rollback to revision {revision_id}",
                                       target.kb_text, target.examples_text, kb.revision,
                                       target.topics.split(",") if target.topics else [])

    async def _guard(self, examples_text: str) -> SaveOutcome | None:
        """Refuse examples that would cost more than the allowed cross-validation points;
        the model for them is trained meanwhile (kept in the cache if they are refused)."""
        try:
            current, proposed = await asyncio.to_thread(self._datasets, examples_text)
        except DataError as exc:
            return _refused("The example questions are not valid", exc)
        estimate, _ = await asyncio.gather(asyncio.to_thread(self._estimate, current, proposed),
                                           asyncio.to_thread(self._train_model, proposed))
        self._trained_for = examples_text
        allowed = self.settings.web.cv_guard_points
        logger.info(f"editor guard: {estimate.points_lost:+.1f} points of cross-validation "
                    f"accuracy lost on {', '.join(estimate.intents)}")
        if estimate.points_lost > allowed:
            return SaveOutcome(False, f"Refused: these examples would lower cross-validation "
                               f"accuracy by {estimate.points_lost:.1f} points, more than "
                               f"{allowed:g} (on the questions of "
                               f"{', '.join(estimate.intents)}: {estimate.before:.1%} → "
                               f"{estimate.after:.1%}). They probably look like questions "
                               "of another topic.")
        return None

    def _datasets(self, examples_text: str) -> tuple[TrainingData, TrainingData]:
        """The training data now, and with ``examples_text`` as the editor's file."""
        current = load_training_data(self.settings.data_dir)
        with tempfile.TemporaryDirectory(prefix="callbot-guard-") as scratch:
            copy = Path(scratch) / "data"
            shutil.copytree(self.settings.data_dir, copy)
            replace_file(copy / self.examples_path.relative_to(self.settings.data_dir),
                         examples_text)
            return current, load_training_data(copy)

    def _estimate(self, current: TrainingData, proposed: TrainingData) -> guard.GuardEstimate:
        if self.accuracy_of:
            return guard.GuardEstimate((), self.accuracy_of(current), self.accuracy_of(proposed),
                                       1.0)
        return guard.estimate(current, proposed, self._params())

    def _params(self) -> EmbeddedNluParams:
        return EmbeddedNluParams(fallback_threshold=self.settings.nlu.fallback_threshold)

    def _train_model(self, data: TrainingData) -> None:
        """Into the cache every bot process loads from (same data, same fingerprint)."""
        EmbeddedNLU.load_or_train(data, self.settings.nlu.cache_dir, self._params())

    async def _publish(self, user: str, comment: str, kb_text: str, examples_text: str,
                       kb_revision: str, topics: list[str]) -> SaveOutcome:
        old_kb, old_examples = self.read_files()
        diff = _diff(old_kb, kb_text, self.kb_path) + _diff(old_examples, examples_text,
                                                            self.examples_path)
        if examples_text != old_examples:
            examples_text = examples_text or write_examples({})
            if examples_text != self._trained_for:  # a rollback: no guard trained it
                _, proposed = await asyncio.to_thread(self._datasets, examples_text)
                await asyncio.to_thread(self._train_model, proposed)
            await asyncio.to_thread(replace_file, self.examples_path, examples_text)
        if kb_text != old_kb:
            await asyncio.to_thread(replace_file, self.kb_path, kb_text)
        revision_id = await revisions.add(self.engine, user, comment, kb_text, examples_text,
                                          kb_revision, topics, diff)
        await audit(self.engine, user, "faq.save", ",".join(topics),
                    f"revision {revision_id}: {comment}")
        return SaveOutcome(True, f"Saved as revision {revision_id}; the bot answers with it "
                           "from the next turn.", revision_id=revision_id)

    async def _record_outside_changes(self, kb_text: str, examples_text: str) -> None:
        """The files as found become a revision if they differ from the last one stored."""
        last = await revisions.head(self.engine)
        if last and (last.kb_text, last.examples_text) == (kb_text, examples_text):
            return
        kb_revision = hashlib.sha256(kb_text.encode()).hexdigest()[:12]
        diff = _diff(last.kb_text, kb_text, self.kb_path) if last else ""
        await revisions.add(self.engine, "system", "files as found on disk" if last is None
                            else "changed outside the editor", kb_text, examples_text,
                            kb_revision, [], diff)


def _version(kb_text: str, examples_text: str, topic_id: str, path: Path) -> str:
    kb = load_knowledge_base(path, kb_text)
    topic = kb.topics[topic_id]
    mine = read_examples(examples_text).get(topic_id, [])
    material = "\x00".join([topic.answer, topic.details, topic.label, *mine])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _clean_examples(examples: list[str]) -> list[str]:
    cleaned: list[str] = []
    for example in examples:
        text = " ".join(example.replace("\r", " ").split()).removeprefix("- ").strip()
        if text and text not in cleaned:
            cleaned.append(text[:MAX_EXAMPLE_CHARS])
    return cleaned


def _refused(what: str, exc: DataError) -> SaveOutcome:
    problems = tuple(f"line {p.line}: {p.message}" for p in exc.problems)
    return SaveOutcome(False, f"{what}; nothing was saved.", problems)


def _diff(old: str, new: str, path: Path) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                        f"a/{path.name}", f"b/{path.name}"))
