"""The FAQ editor's work, without HTTP: read a topic, preview, validate, save, roll back.

A save is refused, with the reason, when someone else saved the same topic since the
editor opened it, when the knowledge base would not pass ``callbot kb validate``, or
when new example questions would lower the NLU's cross-validation accuracy by more
than ``web.cv_guard_points`` (estimated where the edit acts: ``callbot.nlu.guard``).
An answer-only edit touches no example, so it needs no guard and no training. When
examples change, the model for the new data is trained into the shared cache while the
guard runs, *before* the files change, so bot processes load it instead of training.
Then the files that changed are replaced atomically (``kb.yml``, a topic file, the
examples), the new revision is stored (who, when, diff, every file) and every bot
process picks the change up on its next turn. Other changes (new topics, questions,
services) go through ``change()``: a pure edit of the files, validated, then published.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.ext.asyncio import AsyncEngine

from callbot.config import Settings
from callbot.kb.answers import answer_topic
from callbot.kb.live import LiveKnowledgeBase
from callbot.kb.loader import load_knowledge_base
from callbot.kb.model import KnowledgeBase
from callbot.kb.speakable import to_spoken
from callbot.nlu import guard
from callbot.nlu.embedded import EmbeddedNLU, EmbeddedNluParams
from callbot.nlu.intents import TOPIC_INTENTS
from callbot.nlu.training_data import TrainingData, load_training_data
from callbot.problems import DataError
from callbot.store import revisions
from callbot.store.accounts import audit
from callbot.web.kb_files import EDITOR_TOPICS_FILE, KbFiles
from callbot.web.kb_text import read_examples, replace_file, set_topic_fields, write_examples
from callbot.web.topic_text import clean_questions, read_editor_topics, write_editor_topics

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
    questions: tuple[str, ...] = ()  # what the retriever matches
    source: str = ""  # the file it is written in, relative to the data folder
    in_editor_file: bool = False  # created in the editor: questions editable, deletable
    takes_questions: bool = False  # lives in a topic file: new questions can go there
    has_examples: bool = True  # an intent of the dialogue classifier (training examples)
    link: str = ""  # the page the bot offers to send by SMS


@dataclass(frozen=True)
class SaveOutcome:
    ok: bool
    message: str
    problems: tuple[str, ...] = ()
    conflict: bool = False
    revision_id: int | None = None
    #: field of the form → what is wrong with it, in French, shown beside the field
    field_errors: Mapping[str, str] = field(default_factory=dict)


@dataclass
class FaqEditor:
    settings: Settings
    engine: AsyncEngine
    #: Tests and fuzzing: accuracy of whole data, instead of the guard's estimate.
    accuracy_of: Callable[[TrainingData], float] | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _trained_for: str | None = None  # the examples text whose model is in the cache
    _live: LiveKnowledgeBase | None = field(default=None, repr=False)

    @property
    def kb_path(self) -> Path:
        return self.settings.knowledge_base_path

    @property
    def examples_path(self) -> Path:
        nlu_dir = self.settings.data_dir / "nlu"
        return (nlu_dir if nlu_dir.is_dir() else self.settings.data_dir) / "editor.yml"

    def files(self) -> KbFiles:
        return KbFiles.read(self.kb_path, self.examples_path)

    def knowledge_base(self) -> KnowledgeBase:
        return load_knowledge_base(self.kb_path)

    def current(self) -> KnowledgeBase:
        """The knowledge base for pages that only read it (topic titles): loaded once, again
        when a file changes (a stat per view, not a 0.7 s load), the last valid one while
        the files are broken. ``DataError`` if they were broken from the start."""
        if self._live is None:
            self._live = LiveKnowledgeBase(self.kb_path)
        return self._live.refresh()

    def topic(self, topic_id: str) -> TopicView:
        files = self.files()
        kb = files.load()
        topic = kb.topics[topic_id]
        data = load_training_data(self.settings.data_dir)
        editor = tuple(read_examples(files.examples).get(topic_id, []))
        mine = str(self.examples_path)
        examples = tuple(e.text for e in data.examples
                         if e.intent == topic_id and not e.source.startswith(mine))
        name = files.source_name(topic.source) if topic.source else None
        return TopicView(topic.id, topic.label, topic.answer, topic.details, topic.service,
                         examples, editor, topic_version(files, kb, topic_id), topic.questions,
                         self.shown(topic.source), name == EDITOR_TOPICS_FILE, name is not None,
                         topic_id in TOPIC_INTENTS or bool(examples or editor), topic.link)

    def shown(self, source: str) -> str:
        """A file as the editor shows it: relative to the data folder when it is in it."""
        path = Path(source)
        return str(path.relative_to(self.settings.data_dir)) \
            if path.is_relative_to(self.settings.data_dir) else path.name

    def now(self) -> datetime:
        return datetime.now(ZoneInfo(self.settings.timezone)).replace(tzinfo=None)

    def candidate(self, topic_id: str, fields: dict[str, str],
                  questions: list[str] | None = None) -> tuple[KbFiles, KnowledgeBase]:
        """The files with these fields (and, for an editor topic, these questions) in the
        file the topic lives in; ``DataError`` if the result does not validate."""
        files = self.files()
        new = with_topic_fields(files, files.load(), topic_id, fields, questions)
        return new, new.load()

    def preview(self, topic_id: str, fields: dict[str, str]) -> tuple[str, str]:
        """(answer, details) as they would be spoken now, slots filled, numbers in words."""
        _, kb = self.candidate(topic_id, fields)
        answer = answer_topic(kb, topic_id, self.now())
        return to_spoken(answer.text), to_spoken(answer.details)

    async def save(self, user: str, topic_id: str, base_version: str, fields: dict[str, str],
                   editor_examples: list[str], comment: str = "",
                   questions: list[str] | None = None) -> SaveOutcome:
        """The topic form's save: refused if the topic changed since ``base_version``."""
        last = await revisions.head(self.engine)  # names who changed it, in a conflict
        who = f"{last.author} at {last.created_at:%H:%M:%S}" if last else "someone"

        def edit(files: KbFiles, current: KnowledgeBase) -> KbFiles:
            if topic_id not in current.topics:
                raise Refusal(f"'{topic_id}' was deleted since you opened it", conflict=True)
            if topic_version(files, current, topic_id) != base_version:
                raise Refusal(f"'{topic_id}' was changed by {who} since you opened it",
                              conflict=True, then=" Reload the topic, then apply your change "
                              "again.")
            new = with_topic_fields(files, current, topic_id, fields, questions)
            before = read_examples(files.examples)
            examples_text = write_examples({**before, topic_id: _clean_examples(editor_examples)})
            if examples_text == write_examples(before):
                examples_text = files.examples  # unchanged: the file is left alone
            return KbFiles(new.kb_path, new.examples_path, new.kb, examples_text, new.topics)

        return await self.change(user, comment or f"edit {topic_id}", [topic_id], edit,
                                 unchanged_is_saved=True)

    async def change(self, user: str, comment: str, targets: list[str],
                     edit: Callable[[KbFiles, KnowledgeBase], KbFiles],
                     action: str = "faq.save", unchanged_is_saved: bool = False) -> SaveOutcome:
        """Apply ``edit`` to the files as they are now, validate, publish. ``edit`` raises
        ``Refusal`` (the form is wrong) or ``DataError``; either way nothing is written.
        Changed examples go through the CV guard first. ``unchanged_is_saved``: a form saved
        as it was is a revision all the same (the topic form), not a refusal."""
        async with self._lock:
            files = self.files()
            await self._record_outside_changes(files)
            try:
                current = await asyncio.to_thread(files.load)
            except DataError as exc:
                return _refused("The knowledge base on disk is not valid", exc)
            try:
                new = await asyncio.to_thread(edit, files, current)
                kb = await asyncio.to_thread(new.load)
            except Refusal as refusal:
                return SaveOutcome(False, f"{refusal.message}; nothing was saved.{refusal.then}",
                                   refusal.problems, refusal.conflict)
            except DataError as exc:
                return _refused("The knowledge base would not be valid", exc)
            if new == files and not unchanged_is_saved:
                return SaveOutcome(False, "Nothing to save: the files would not change.")
            if new.examples != files.examples:
                refusal = await self._guard(new.examples)
                if refusal:
                    return refusal
            return await self.publish(user, comment, new, kb.revision, targets, action)

    async def add_example(self, user: str, intent: str, text: str) -> SaveOutcome:
        """The dashboard's one-click "add as example of intent …"."""
        def edit(files: KbFiles, current: KnowledgeBase) -> KbFiles:
            examples = read_examples(files.examples)
            examples[intent] = _clean_examples([*examples.get(intent, []), text])
            return KbFiles(files.kb_path, files.examples_path, files.kb, write_examples(examples),
                           files.topics)

        return await self.change(user, f"example for {intent}: {text[:80]}", [intent], edit,
                                 unchanged_is_saved=True)

    async def rollback(self, user: str, revision_id: int) -> SaveOutcome:
        target = await revisions.get(self.engine, revision_id)
        if target is None:
            return SaveOutcome(False, f"there is no revision {revision_id}")
        async with self._lock:
            files = self.files()
            await self._record_outside_changes(files)
            old = KbFiles(files.kb_path, files.examples_path, target.kb_text,
                          target.examples_text, files.topics).with_topics_json(target.topic_files)
            try:
                kb = old.load()
            except DataError as exc:  # e.g. the NLU intents changed since
                return _refused(f"Revision {revision_id} is no longer valid", exc)
            return await self.publish(user, f"rollback to revision {revision_id}", old,
                                      kb.revision,
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

    async def publish(self, user: str, comment: str, new: KbFiles, kb_revision: str,
                      topics: list[str], action: str = "faq.save") -> SaveOutcome:
        """Write the files that changed, store the revision, audit it (under the lock)."""
        old = self.files()
        diff = old.diff(new)
        examples_text = new.examples
        if examples_text != old.examples:
            examples_text = examples_text or write_examples({})
            if examples_text != self._trained_for:  # a rollback: no guard trained it
                _, proposed = await asyncio.to_thread(self._datasets, examples_text)
                await asyncio.to_thread(self._train_model, proposed)
            await asyncio.to_thread(replace_file, self.examples_path, examples_text)
        await asyncio.to_thread(new.write_changes, old, False)
        revision_id = await revisions.add(self.engine, user, comment, new.kb, examples_text,
                                          kb_revision, topics, diff, new.topics_json())
        await audit(self.engine, user, action, ",".join(topics),
                    f"revision {revision_id}: {comment}")
        return SaveOutcome(True, f"Saved as revision {revision_id}; the bot answers with it "
                           "from the next turn.", revision_id=revision_id)

    async def _record_outside_changes(self, files: KbFiles) -> None:
        """The files as found become a revision if they differ from the last one stored."""
        last = await revisions.head(self.engine)
        topics = files.topics_json()
        if last and (last.kb_text, last.examples_text, last.topic_files or topics) == \
                (files.kb, files.examples, topics):
            return
        kb_revision = hashlib.sha256(files.kb.encode()).hexdigest()[:12]
        diff = ""
        if last:
            before = KbFiles(files.kb_path, files.examples_path, last.kb_text,
                             last.examples_text, files.topics).with_topics_json(last.topic_files)
            diff = before.diff(files)
        await revisions.add(self.engine, "system", "files as found on disk" if last is None
                            else "changed outside the editor", files.kb, files.examples,
                            kb_revision, [], diff, topics)


class Refusal(Exception):
    """An edit the editor cannot make as asked (a form problem, not a data problem)."""

    def __init__(self, message: str, problems: tuple[str, ...] = (), conflict: bool = False,
                 then: str = "") -> None:
        super().__init__(message)
        self.message, self.problems, self.conflict = message, problems, conflict
        self.then = then  # said after "nothing was saved."


def with_topic_fields(files: KbFiles, kb: KnowledgeBase, topic_id: str, fields: dict[str, str],
                      questions: list[str] | None = None) -> KbFiles:
    """The files with the topic's fields set in the file it lives in; its questions too
    when it is an editor topic (elsewhere they are the town's, and stay as written)."""
    topic = kb.topics[topic_id]
    if files.source_name(topic.source) == EDITOR_TOPICS_FILE:
        topics = read_editor_topics(files.text_of(topic.source))
        block = topics[topic_id]
        for key, value in fields.items():
            if value.strip():
                block[key] = value.strip()
            else:
                block.pop(key, None)
        if questions is not None:
            block["questions"] = clean_questions(questions)
        return files.with_editor_topics(write_editor_topics(topics))
    text = files.text_of(topic.source)
    return files.with_text(topic.source, set_topic_fields(Path(topic.source), text, topic_id,
                                                          fields))


def topic_version(files: KbFiles, kb: KnowledgeBase, topic_id: str) -> str:
    topic = kb.topics[topic_id]
    mine = read_examples(files.examples).get(topic_id, [])
    material = "\x00".join([topic.answer, topic.details, topic.label, topic.link,
                            *topic.questions, "\x01", *mine])
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def _clean_examples(examples: list[str]) -> list[str]:
    cleaned: list[str] = []
    for example in examples:
        text = " ".join(example.replace("\r", " ").split()).removeprefix("- ").strip()
        if text and text not in cleaned:
            cleaned.append(text[:MAX_EXAMPLE_CHARS])
    return cleaned


def _refused(what: str, exc: DataError) -> SaveOutcome:
    return SaveOutcome(False, f"{what}; nothing was saved.", problem_lines(exc))


def problem_lines(exc: DataError) -> tuple[str, ...]:
    """Every problem, with the file it is in and its line."""
    return tuple(f"{Path(p.file).name}, line {p.line}: {p.message}" for p in exc.problems)
