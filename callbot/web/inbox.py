"""The "not understood" inbox in groups: callers asking the same missing thing, together.

Sentences are compared by TF-IDF over character n-grams (speech recognition misspells,
French inflects: whole words would miss "piscine" ~ "piscines") and merged by average
linkage until groups are less alike than ``SIMILARITY_THRESHOLD``. Fifty to a few
hundred sentences: milliseconds, no model, no training.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

#: Average cosine similarity two groups need to become one (0 … 1).
SIMILARITY_THRESHOLD = 0.25
NGRAM_RANGE = (2, 4)
#: Words every caller says ("je voudrais savoir pour la…"): left out, else they group
#: sentences by how people ask instead of what they ask about.
_FILLER_TEXT = """
le la les l un une des du de d à a au aux et ou est ce c ça que qu qui je j tu il elle on
nous vous ils elles me m se s mon ma mes ton ta votre vos pour par en dans sur avec
quel quelle quels quelles quand comment combien où est-ce euh bah ben bonjour allô oui non
voudrais voudrait veux veut voulais savoir peut peux pouvez faut ai as avez suis c'est
"""
FILLER_WORDS = frozenset(_FILLER_TEXT.split())
_WORD = re.compile(r"[^\wÀ-ÿ'-]+")


@dataclass(frozen=True)
class SentenceGroup:
    rows: tuple[dict, ...]  # the query's rows (text, n, intent, call_id), most frequent first

    @property
    def total(self) -> int:
        return sum(int(r.get("n") or 1) for r in self.rows)

    @property
    def texts(self) -> tuple[str, ...]:
        return tuple(str(r["text"]) for r in self.rows)


def content_words(text: str) -> str:
    """The sentence without its filler words (itself when nothing else is left)."""
    words = [w for w in _WORD.split(text.lower()) if w and w.strip("'-") not in FILLER_WORDS]
    return " ".join(words) or text.lower()


def similarities(texts: list[str]) -> np.ndarray:
    """Cosine similarity of every pair of sentences (char n-grams within words)."""
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=NGRAM_RANGE, lowercase=True,
                                 sublinear_tf=True, strip_accents="unicode")
    vectors = vectorizer.fit_transform([content_words(t) for t in texts])  # rows are L2-normalised
    return np.clip((vectors @ vectors.T).toarray(), 0.0, 1.0)


def group_sentences(rows: list[dict], threshold: float = SIMILARITY_THRESHOLD
                    ) -> list[SentenceGroup]:
    """Groups of similar sentences, the most asked group first."""
    rows = [r for r in rows if str(r.get("text") or "").strip()]
    if len(rows) < 2:
        return [SentenceGroup((r,)) for r in rows]
    try:
        distance = 1.0 - similarities([str(r["text"]) for r in rows])
    except ValueError:  # nothing to compare (no n-gram at all): one group each
        return [SentenceGroup((r,)) for r in rows]
    labels = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                     distance_threshold=1.0 - threshold).fit_predict(distance)
    groups = [SentenceGroup(tuple(sorted((r for r, g in zip(rows, labels, strict=True)
                                          if g == label),
                                         key=lambda r: (-int(r.get("n") or 1), r["text"]))))
              for label in sorted(set(labels))]
    return sorted(groups, key=lambda g: (-g.total, g.texts[0]))
