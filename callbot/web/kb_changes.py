"""The editor's changes beyond one topic's text: create or delete an editor topic, give a
topic new questions, edit a service. Each is a pure edit of the files (``KbFiles``), run
by ``FaqEditor.change`` under its lock, validated whole before anything is written.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Mapping
from pathlib import Path

from callbot.kb.loader import MIN_TOPIC_QUESTIONS
from callbot.kb.model import KnowledgeBase
from callbot.web.errand_fields import FORM_REFUSED, apply_service_errands, parse_service_errands
from callbot.web.faq import FaqEditor, Refusal, SaveOutcome, topic_version
from callbot.web.kb_files import EDITOR_TOPICS_FILE, KbFiles
from callbot.web.service_text import apply_service_edit, parse_service_form, service_source
from callbot.web.topic_text import (
    TopicDraft,
    append_questions,
    clean_questions,
    draft_block,
    new_topic_id,
    read_editor_topics,
    write_editor_topics,
)

Edit = Callable[[KbFiles, KnowledgeBase], KbFiles]


def draft_problems(draft: TopicDraft, kb: KnowledgeBase) -> tuple[str, ...]:
    """What the create form lacks, said before the knowledge base is even checked."""
    problems = []
    if not draft.label.strip():
        problems.append("give the topic a title (it is also named in \"vous parlez de X ou "
                        "de Y ?\")")
    if draft.service not in kb.services:
        problems.append(f"choose the service that handles it (not '{draft.service}')")
    if not draft.answer.strip():
        problems.append("write the spoken answer")
    if len(draft.questions) < MIN_TOPIC_QUESTIONS:
        problems.append(f"give at least {MIN_TOPIC_QUESTIONS} ways a caller asks it, one a "
                        f"line (there are {len(draft.questions)})")
    return tuple(problems)


async def create_topic(editor: FaqEditor, user: str, draft: TopicDraft,
                       comment: str = "") -> tuple[str, SaveOutcome]:
    """(the new topic's id, the outcome): a topic of ``topics/editor.yml``."""
    kb = await asyncio.to_thread(editor.knowledge_base)
    topic_id = new_topic_id(draft.label, kb.topics)

    def edit(files: KbFiles, kb: KnowledgeBase) -> KbFiles:
        problems = draft_problems(draft, kb)
        if problems:
            raise Refusal("The topic is not complete", problems)
        if topic_id in kb.topics:
            raise Refusal(f"a topic '{topic_id}' was created meanwhile: save again",
                          conflict=True)
        topics = read_editor_topics(files.topics.get(EDITOR_TOPICS_FILE, ""))
        topics[topic_id] = draft_block(draft)
        return files.with_editor_topics(write_editor_topics(topics))

    outcome = await editor.change(user, comment or f"new topic {topic_id}", [topic_id], edit,
                                  "faq.create")
    return topic_id, outcome


async def delete_topic(editor: FaqEditor, user: str, topic_id: str,
                       base_version: str) -> SaveOutcome:
    def edit(files: KbFiles, kb: KnowledgeBase) -> KbFiles:
        topic = kb.topics.get(topic_id)
        if topic is None or files.source_name(topic.source) != EDITOR_TOPICS_FILE:
            raise Refusal(f"only topics created in the editor can be deleted here; "
                          f"'{topic_id}' is not one")
        if topic_version(files, kb, topic_id) != base_version:
            raise Refusal(f"'{topic_id}' was changed since you opened it", conflict=True)
        topics = read_editor_topics(files.text_of(topic.source))
        del topics[topic_id]
        return files.with_editor_topics(write_editor_topics(topics))

    return await editor.change(user, f"delete topic {topic_id}", [topic_id], edit, "faq.delete")


async def add_questions(editor: FaqEditor, user: str, topic_id: str,
                        sentences: list[str]) -> SaveOutcome:
    """Callers' sentences as new questions of a topic that lives in a topic file."""
    questions = clean_questions(sentences)

    def edit(files: KbFiles, kb: KnowledgeBase) -> KbFiles:
        topic = kb.topics.get(topic_id)
        if topic is None:
            raise Refusal(f"there is no topic '{topic_id}'")
        if not questions:
            raise Refusal("no sentence to add")
        name = files.source_name(topic.source)
        if name is None:
            raise Refusal(f"'{topic_id}' is written in kb.yml, whose topics take questions "
                          "as training examples: use \"add as example\" for each sentence")
        if name == EDITOR_TOPICS_FILE:
            topics = read_editor_topics(files.text_of(topic.source))
            block = topics[topic_id]
            block["questions"] = clean_questions([*block.get("questions", []), *questions])
            return files.with_editor_topics(write_editor_topics(topics))
        text = append_questions(Path(topic.source), files.text_of(topic.source), topic_id,
                                questions)
        return files.with_text(topic.source, text)

    first = questions[0][:60] if questions else ""
    return await editor.change(user, f"questions for {topic_id}: {first}", [topic_id], edit,
                               "faq.questions")


def service_version(kb: KnowledgeBase, service_id: str) -> str:
    """Changes whenever the service's name, phone, address, hours or closures do."""
    return hashlib.sha256(repr(kb.services[service_id]).encode()).hexdigest()[:16]


def service_file(files: KbFiles, service_id: str) -> Path | None:
    texts = {files.kb_path: files.kb, **{files.path_of(n): t for n, t in files.topics.items()}}
    return service_source(texts, service_id)


async def save_service(editor: FaqEditor, user: str, service_id: str, base_version: str,
                       form: Mapping[str, str], comment: str = "") -> SaveOutcome:
    """Name, phone, address, hours by weekday, closures, appointments and where messages go,
    in the file that holds the service."""
    service_edit, problems = parse_service_form(form)
    errands, errors = parse_service_errands(form, editor.settings.errands.calendar.calendars)
    if service_edit is None or errors:
        return SaveOutcome(False, FORM_REFUSED, tuple(problems), field_errors=errors)

    def edit(files: KbFiles, kb: KnowledgeBase) -> KbFiles:
        if service_id not in kb.services:
            raise Refusal(f"there is no service '{service_id}'")
        if service_version(kb, service_id) != base_version:
            raise Refusal(f"'{service_id}' was changed since you opened it: reload the page, "
                          "then apply your change again", conflict=True)
        path = service_file(files, service_id)
        if path is None:
            raise Refusal(f"service '{service_id}' is not written in any file")
        source = str(path)
        text = apply_service_edit(path, files.text_of(source), service_id, service_edit)
        if errands is not None:
            text = apply_service_errands(path, text, kb.services[service_id], errands)
        return files.with_text(source, text)

    return await editor.change(user, comment or f"service {service_id}",
                               [f"service:{service_id}"], edit, "faq.service")
