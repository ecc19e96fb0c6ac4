"""Topics matched by retrieval over the knowledge base's own questions: no training examples.

Every topic and every entry of a topic is a *target*; its documents are its questions (plus
the label, the answer and, for the contract's topics, their Rasa training examples). A
question is scored against each document lexically (TF-IDF of words and character
n-grams) and, when an encoder is configured, by sentence-vector cosine; a target scores its
best document. The confidence is not the score: a logistic calibrator, fitted when the
index is built, says how often the best topic is right given the score, its margin over the
runner-up and how out-of-scope the classifier finds the sentence. It is fitted on held-out
questions (each left out of the index) *and* on held-out topics (every document of the
topic left out): a question whose topic does not exist must come out unsure, so it goes
to a clarification or a person instead of the nearest topic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from loguru import logger
from scipy import sparse
from scipy.special import expit, softmax
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from callbot.kb.model import KnowledgeBase
from callbot.nlu.encoder import CachedEncoder
from callbot.nlu.result import TopicMatch
from callbot.nlu.text import features_text

#: How much the sentence vector counts against the words, when an encoder is on.
ENCODER_WEIGHT = 0.5
#: e5 cosines of unrelated French sentences sit near this; rescaled so 0 means unrelated.
ENCODER_FLOOR = 0.8
RANKING_SIZE = 5
MIN_CALIBRATION_QUESTIONS = 200  # fewer written questions: the Rasa examples calibrate too
CALIBRATION_CHUNK = 256  # held-out questions scored at once (bounds the memory of a build)
_NO_DOC = -1.0

#: Entry ids that name a point callers ask about every topic: one model, pooled over all
#: topics, learns how each is asked ("c'est combien", "quel délai", "quels papiers").
FACETS = {"price": "price", "cost": "price", "fee": "price", "fees": "price",
          "delay": "delay", "documents": "documents"}
#: The facet model's probability above which the topic's entry for that point answers.
FACET_MIN_PROBABILITY = 0.5
FACET_C = 3.0
FACET_TOL = 1e-3  # 1e-4 gives the same entry to every KB question (3 167), 2.5× slower
#: A word in this share of a topic's questions names the topic, not one of its entries.
TOPIC_WORD_SHARE = 0.3
#: An entry answers when, on the words that are not the topic's, it beats the main answer
#: by this much (cosine); a general question keeps the main answer.
ENTRY_MARGIN = 0.05
#: Topics this close to the best get the full entry choice (the classifier may pick them).
NEAR_BEST = 0.05

#: texts → (intent labels, probability matrix) of the dialogue classifier: its
#: out-of-scope probability and its probability for the retrieved topic are cues.
ClassifierCue = Callable[[list[str]], tuple[list[str], np.ndarray]]


#: Hesitations carry no subject: left in, "bof euh" met "euh les encombrants".
_FILLERS = frozenset({"euh", "euhh", "heu", "heuu", "bof", "hum", "hmm", "ben", "bah", "ba"})


def retrieval_text(text: str) -> str:
    """The form the retriever matches: ``features_text`` without hesitations."""
    return " ".join(w for w in features_text(text).split() if w not in _FILLERS)


@dataclass(frozen=True)
class Target:
    topic: str
    entry: str | None  # None: the topic's main answer


@dataclass(frozen=True)
class Retrieval:
    """Ranked topics for one sentence; ``matches[0]`` is the best."""

    matches: tuple[TopicMatch, ...]

    @property
    def best(self) -> TopicMatch | None:
        return self.matches[0] if self.matches else None


def _vectorizers() -> tuple[TfidfVectorizer, ...]:
    """Words (1–2) and characters (3–5, inside words: recognition slips, plurals)."""
    return (TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                            token_pattern=r"(?u)\b\w[\w']*", dtype=np.float32),
            TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                            dtype=np.float32))


@dataclass
class _Documents:
    texts: list[str]  # as the features see them
    target_of: np.ndarray  # document → target index
    is_question: np.ndarray  # ways a caller asks (not a label or an answer)
    is_example: np.ndarray  # a Rasa training example of the classifier, not a KB question


def _documents(kb: KnowledgeBase, examples: dict[str, list[str]],
               ) -> tuple[list[Target], _Documents]:
    targets: list[Target] = []
    texts: list[str] = []
    owners: list[int] = []
    questions: list[bool] = []
    from_examples: list[bool] = []

    def add(target_index: int, text: str, question: bool, example: bool = False) -> None:
        folded = retrieval_text(text)
        if folded:
            texts.append(folded)
            owners.append(target_index)
            questions.append(question)
            from_examples.append(example)

    for topic in kb.topics.values():
        targets.append(Target(topic.id, None))
        main = len(targets) - 1
        add(main, topic.label, False)
        add(main, topic.answer, False)
        for text in topic.questions:
            add(main, text, True)
        for text in examples.get(topic.id, ()):
            add(main, text, True, example=True)
        for keyword in topic.keywords:
            add(main, keyword, False)
        for entry in topic.entries:
            targets.append(Target(topic.id, entry.id))
            for text in entry.questions:
                add(len(targets) - 1, text, True)
            add(len(targets) - 1, entry.answer, False)
    return targets, _Documents(texts, np.asarray(owners), np.asarray(questions, dtype=bool),
                               np.asarray(from_examples, dtype=bool))


class TopicRetriever:
    """Built once per knowledge-base revision; ``match`` is thread-safe."""

    def __init__(self, kb: KnowledgeBase, examples: dict[str, list[str]] | None = None,
                 encoder: CachedEncoder | None = None,
                 classifier: ClassifierCue | None = None) -> None:
        started = time.perf_counter()
        self.revision = kb.revision
        self._encoder = encoder
        self._classifier = classifier
        self._topic_ids: dict[str, int] = {}
        self.targets, docs = _documents(kb, examples or {})
        self._target_of = docs.target_of
        self._topic_of_target = np.asarray([self._topic_index(t.topic) for t in self.targets])
        self._topics = list(dict.fromkeys(t.topic for t in self.targets))
        # Documents are written target by target, targets topic by topic: max by slices.
        self._target_starts = np.minimum(
            np.searchsorted(docs.target_of, np.arange(len(self.targets))), len(docs.texts) - 1)
        counts = np.bincount(docs.target_of, minlength=len(self.targets))
        self._empty_targets = np.flatnonzero(counts == 0)
        self._doc_ends = np.searchsorted(docs.target_of, np.arange(len(self.targets)), "right")
        self._topic_starts = np.searchsorted(self._topic_of_target, np.arange(len(self._topics)))
        self._vectorizers = tuple(v.fit(docs.texts) for v in _vectorizers())
        self._doc_lexical = tuple(v.transform(docs.texts).T.tocsr() for v in self._vectorizers)
        self._doc_vectors = (encoder.encode_passages(docs.texts) if encoder else None)
        self._calibrator = self._fit_calibrator(docs, examples or {})
        self._facet_model = self._fit_facets(docs)
        self._topic_words = self._common_words(kb, docs)
        self.build_seconds = time.perf_counter() - started
        logger.info(f"topic retriever: {len(self._topics)} topics, {len(self.targets)} targets, "
                    f"{len(docs.texts)} documents, encoder "
                    f"{encoder.name if encoder else 'none'}, built in {self.build_seconds:.2f} s")

    def _topic_index(self, topic: str) -> int:
        return self._topic_ids.setdefault(topic, len(self._topic_ids))

    def __getstate__(self) -> dict[str, object]:
        """Pickled without the live encoder and classifier (``attach`` puts them back)."""
        return {**self.__dict__, "_encoder": None, "_classifier": None}

    def attach(self, encoder: CachedEncoder | None, classifier: ClassifierCue | None) -> None:
        """The encoder and classifier of this process, for an index read from the cache."""
        self._encoder, self._classifier = encoder, classifier

    # --- similarity ---------------------------------------------------------------------
    def _similarities(self, texts: list[str], words: sparse.csr_matrix | None = None
                      ) -> np.ndarray:
        """Sentence × document similarity, 0–1 (``words``: the texts' word vectors, if the
        caller has them already)."""
        sims = np.zeros((len(texts), self._doc_lexical[0].shape[1]), dtype=np.float32)
        for index, (vectorizer, documents) in enumerate(zip(self._vectorizers,
                                                             self._doc_lexical, strict=True)):
            vectors = words if index == 0 and words is not None else vectorizer.transform(texts)
            product = vectors @ documents
            sims += product.toarray() if sparse.issparse(product) else product
        sims /= len(self._vectorizers)  # each block is unit-length: the mean cosine
        if self._encoder is not None and self._doc_vectors is not None:
            vectors = self._encoder.encode_queries(texts)
            semantic = np.clip((vectors @ self._doc_vectors.T - ENCODER_FLOOR)
                               / (1 - ENCODER_FLOOR), 0, 1)
            sims = (1 - ENCODER_WEIGHT) * sims + ENCODER_WEIGHT * semantic
        return sims

    def _target_scores(self, sims: np.ndarray) -> np.ndarray:
        """Best document of each target (rows: sentences); documents are grouped by target."""
        scores = np.maximum.reduceat(sims, self._target_starts, axis=1)
        scores[:, self._empty_targets] = _NO_DOC
        return scores

    def _topic_scores(self, target_scores: np.ndarray) -> np.ndarray:
        return np.maximum.reduceat(target_scores, self._topic_starts, axis=1)

    @staticmethod
    def _best_two(topic_scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ordered = -np.sort(-topic_scores, axis=1)
        return ordered[:, 0], ordered[:, 1] if ordered.shape[1] > 1 else 0 * ordered[:, 0]

    @staticmethod
    def _features(score: np.ndarray, rival: np.ndarray, cues: np.ndarray) -> np.ndarray:
        """Per sentence: a topic's score, its margin over its best rival, the rival's score,
        how out of scope the classifier finds the sentence and how sure it is of the topic."""
        oos, agrees = cues[:, 0], cues[:, 1]
        return np.column_stack([score, score - rival, rival, oos, score * (1 - oos), agrees,
                                agrees * (score - rival)])

    def _cues(self, texts: list[str], topics: np.ndarray,
              classified: tuple[list[str], np.ndarray] | None = None) -> np.ndarray:
        """Classifier cues per sentence: P(out of scope), P(the given topic) (``classified``:
        the classifier's labels and probabilities for ``texts``, if the caller has them)."""
        cues = np.zeros((len(texts), 2), dtype=np.float32)
        if self._classifier is None or not texts:
            return cues
        labels, probabilities = classified or self._classifier(texts)
        column = {label: i for i, label in enumerate(labels)}
        if "out_of_scope" in column:
            cues[:, 0] = probabilities[:, column["out_of_scope"]]
        for row, topic in enumerate(topics):
            index = column.get(self._topics[int(topic)])
            if index is not None:
                cues[row, 1] = probabilities[row, index]
        return cues

    # --- calibration --------------------------------------------------------------------
    def _fit_calibrator(self, docs: _Documents, examples: dict[str, list[str]]
                        ) -> LogisticRegression | None:
        # Calibrated on the questions the knowledge base wrote (not on the classifier's own
        # training examples, whose cues would be in-sample and too sure of themselves).
        rows = np.flatnonzero(docs.is_question & ~docs.is_example)
        if rows.size < MIN_CALIBRATION_QUESTIONS:  # a knowledge base with hardly any questions
            rows = np.flatnonzero(docs.is_question)
        if rows.size < 10 or len(self._topics) < 3:
            return None
        features, labels = [], []
        topic_of_doc = self._topic_of_target[docs.target_of]
        for chunk in np.array_split(rows, max(1, rows.size // CALIBRATION_CHUNK)):
            texts = [docs.texts[i] for i in chunk]
            sims = self._similarities(texts)
            classified = self._classifier(texts) if self._classifier is not None else None
            for held_out_topic in (False, True):
                masked = sims.copy()
                for row, doc in enumerate(chunk):
                    if held_out_topic:
                        masked[row, topic_of_doc == topic_of_doc[doc]] = _NO_DOC
                    else:
                        masked[row, doc] = _NO_DOC
                topic_scores = self._topic_scores(self._target_scores(masked))
                best = topic_scores.argmax(axis=1)
                features.append(self._features(*self._best_two(topic_scores),
                                               self._cues(texts, best, classified)))
                labels.append((best == topic_of_doc[chunk]) & (not held_out_topic))
        outside = [retrieval_text(t) for t in examples.get("out_of_scope", [])]
        outside = [t for t in outside if t]
        if outside:
            topic_scores = self._topic_scores(self._target_scores(self._similarities(outside)))
            best = topic_scores.argmax(axis=1)
            features.append(self._features(*self._best_two(topic_scores),
                                           self._cues(outside, best)))
            labels.append(np.zeros(len(outside), dtype=bool))
        x, y = np.vstack(features), np.concatenate(labels)
        if y.all() or not y.any():
            return None
        return LogisticRegression(C=1.0, max_iter=1000).fit(x, y)

    def _fit_facets(self, docs: _Documents) -> LogisticRegression | None:
        """Which generic point (price, delay, documents, or none) a question asks."""
        rows = np.flatnonzero(docs.is_question)
        labels = [FACETS.get(self.targets[int(docs.target_of[i])].entry or "", "none")
                  for i in rows]
        if len(set(labels)) < 2:
            return None
        # words only (the point is in "combien", "délai", "papiers", not in spellings), and
        # balanced: a few hundred questions ask a point, thousands ask none
        return LogisticRegression(C=FACET_C, max_iter=1000, class_weight="balanced",
                                  tol=FACET_TOL).fit(
            self._vectorizers[0].transform([docs.texts[i] for i in rows]), labels)

    def _common_words(self, kb: KnowledgeBase, docs: _Documents) -> list[np.ndarray]:
        """Per topic, the word columns its subject is named by (its label, and words in at
        least a share of its questions): they cannot tell its entries apart."""
        words = self._vectorizers[0]
        present = (words.transform(docs.texts) > 0).tocsr()
        topic_of_doc = self._topic_of_target[docs.target_of]
        common = []
        for index, topic in enumerate(self._topics):
            rows = np.flatnonzero((topic_of_doc == index) & docs.is_question)
            counts = np.asarray(present[rows].sum(axis=0)).ravel() if rows.size else 0
            mask = counts >= max(2, TOPIC_WORD_SHARE * rows.size)
            label = words.transform([retrieval_text(kb.topics[topic].label)])
            mask[label.indices] = True
            common.append(np.flatnonzero(mask))
        return common

    def _entry_by_words(self, words: sparse.csr_matrix, topic: int, own: np.ndarray
                        ) -> str | None:
        """The topic's target closest to the question once the topic's own words are out."""
        query = words.copy()
        query.data[np.isin(query.indices, self._topic_words[topic])] = 0
        norm = float(np.sqrt((query.data ** 2).sum()))
        if norm == 0 or len(own) < 2:
            return None
        # the topic's documents only: they are contiguous, target by target
        first, last = self._target_starts[own[0]], self._doc_ends[own[-1]]
        sims = (query @ self._doc_lexical[0]).toarray().ravel()[first:last] / norm
        starts = np.minimum(self._target_starts[own] - first, max(0, sims.size - 1))
        scores = np.where(self._doc_ends[own] > self._target_starts[own],
                          np.maximum.reduceat(sims, starts), _NO_DOC)
        main = next(i for i, t in enumerate(own) if self.targets[int(t)].entry is None)
        best = int(np.argmax(scores))
        return (self.targets[int(own[best])].entry
                if scores[best] > scores[main] + ENTRY_MARGIN else None)

    def _entry(self, words: sparse.csr_matrix, topic: int, own: np.ndarray,
               target_scores: np.ndarray, facet: str | None) -> str | None:
        """Which of the topic's answers: its entry for the point asked (price, delay,
        documents), else the entry its own words are closest to, else the main answer."""
        if facet is not None:
            faceted = [int(t) for t in own if FACETS.get(self.targets[int(t)].entry or "") == facet]
            if faceted:
                return self.targets[max(faceted, key=lambda t: target_scores[t])].entry
        return self._entry_by_words(words, topic, own)

    def _facet(self, words: sparse.csr_matrix) -> str | None:
        """The generic point the question asks (its words' vector), if the model is sure."""
        if self._facet_model is None:
            return None
        model = self._facet_model
        probs = softmax(np.asarray(words @ model.coef_.T).ravel() + model.intercept_)
        best = int(np.argmax(probs))
        label = str(self._facet_model.classes_[best])
        return label if label != "none" and probs[best] >= FACET_MIN_PROBABILITY else None

    def _confidence(self, features: np.ndarray) -> np.ndarray:
        if self._calibrator is None:
            return np.clip(features[:, 0], 0, 1)
        # the logistic model by hand: sklearn's checks cost more than the product per parse
        model = self._calibrator
        return expit(features @ model.coef_[0] + model.intercept_[0])

    # --- matching -----------------------------------------------------------------------
    def match(self, text: str, classified: dict[str, float] | None = None) -> Retrieval:
        """The topics closest to ``text``, best first, each with its calibrated confidence.

        ``classified``: the classifier's probabilities for this text when the caller already
        has them (its ranking: intents left out of it count as 0), to save a second pass."""
        folded = retrieval_text(text)
        if not folded:
            return Retrieval(())
        words = self._vectorizers[0].transform([folded])
        target_scores = self._target_scores(self._similarities([folded], words))[0]
        topic_scores = self._topic_scores(target_scores[None, :])[0]
        order = np.argsort(-topic_scores)[:RANKING_SIZE]
        if classified is None:
            cues = self._cues([folded] * len(order), order)
        else:
            cues = np.asarray([[classified.get("out_of_scope", 0.0),
                                classified.get(self._topics[int(t)], 0.0)] for t in order],
                              dtype=np.float32)
        matches: list[TopicMatch] = []
        facet = self._facet(words)
        rivals = np.asarray([np.delete(topic_scores, t).max(initial=0.0) for t in order])
        confidences = self._confidence(self._features(topic_scores[order], rivals, cues))
        for rank, topic in enumerate(order):
            confidence = float(confidences[rank])
            if rank > 0:  # a runner-up is at most as likely as the best
                confidence = min(confidence, matches[0].confidence)
            own = np.flatnonzero(self._topic_of_target == topic)
            if topic_scores[topic] >= topic_scores[order[0]] - NEAR_BEST:
                entry = self._entry(words, int(topic), own, target_scores, facet)
            else:  # a runner-up, named in a clarification: its closest target
                entry = self.targets[int(own[np.argmax(target_scores[own])])].entry
            matches.append(TopicMatch(self._topics[topic], entry,
                                      float(round(topic_scores[topic], 4)), confidence))
        return Retrieval(tuple(matches))
