"""The trained text model: which category a message is, and whether a life is at risk now.

A linear model over character n-grams and words (binary TF-IDF, logistic regression), trained from the team's
labelled corpus (``intake/data/corpus/``) by ``scripts/train_understanding.py`` with scikit-learn
and exported as plain numbers to ``intake/data/model/understanding.json``. Reading it needs no
machine-learning library: this module recomputes the same features and the same dot products.
``terms`` is the one feature function; training calls it too, so the two cannot drift apart.

One model, several heads over the same features (a head is a softmax over its labels):

- ``category``: 咨询 求助 投诉 举报 意见建议 表扬 (guangzhou §45, guangxi §25);
- ``emergency``: ``none`` or a situation with the number to call first (``medical/120``,
  ``self_harm/110``…), for the redirection that comes before any question (quxian §8.3,
  guangxi §21.3).
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from intake.errors import ConfigError
from intake.extract.segment import tokens

__all__ = ["DEFAULT_MODEL", "Prediction", "TextModel", "default_model", "prepare", "terms"]

DEFAULT_MODEL = Path(__file__).resolve().parent / "data" / "model" / "understanding.json.gz"

# A long letter says what it is about in its first paragraphs; the tail is mostly history.
MAX_CHARS = 600
NGRAMS = (2, 3)
WORD = "\x01"  # marks a word feature (a control character: normalised text has none)
_DIGITS = re.compile(r"\d+")
_BLANKS = re.compile(r"\s+")


def prepare(text: str) -> str:
    """The text the n-grams are cut from: lower case, every digit run one '0', blanks one space.

    ``text`` is expected normalised already (intake.extract.text.normalize: NFKC, simplified).
    Digits say little about the matter (house numbers, phones, dates) and would split every
    phone number into dozens of rare features.
    """
    s = _DIGITS.sub("0", text[:MAX_CHARS].lower())
    return _BLANKS.sub(" ", s).strip()


def terms(text: str) -> list[str]:
    """The features of a (normalised) text, with repeats: every character n-gram of the prepared
    text (n in NGRAMS), and jieba's words and word pairs, marked with WORD so that the two kinds
    never meet (the words are intake.extract's, cut once per text and shared with it)."""
    s = prepare(text)
    out = [s[i : i + n] for n in NGRAMS for i in range(len(s) - n + 1)]
    words = [
        _DIGITS.sub("0", t.word.lower()) for t in tokens(text) if t.start < MAX_CHARS and not t.word.isspace()
    ]
    out.extend(WORD + w for w in words)
    out.extend(f"{WORD}{a}_{b}" for a, b in pairwise(words))
    return out


@dataclass(frozen=True, slots=True)
class Prediction:
    """One head's answer: every label with its probability, best first."""

    ranked: tuple[tuple[str, float], ...]

    @property
    def best(self) -> str:
        return self.ranked[0][0]

    @property
    def p(self) -> float:
        """The probability of the best label."""
        return self.ranked[0][1]

    def prob(self, label: str) -> float:
        return next((p for lab, p in self.ranked if lab == label), 0.0)


@dataclass(frozen=True, slots=True)
class _Head:
    name: str
    labels: tuple[str, ...]
    start: int  # its first column in every term's weights
    bias: tuple[float, ...]


class TextModel:
    """The exported model; immutable, shared by every request of a process."""

    def __init__(self, data: Mapping[str, Any], source: str = "") -> None:
        try:
            heads = []
            start = 0
            for name, head in data["heads"].items():
                labels = tuple(str(x) for x in head["labels"])
                bias = tuple(float(x) for x in head["bias"])
                if len(bias) != len(labels) or len(labels) < 2:
                    raise ValueError(f"head {name}: {len(labels)} labels, {len(bias)} biases")
                heads.append(_Head(str(name), labels, start, bias))
                start += len(labels)
            width = start + 1  # idf, then every head's weights
            # One row per term, (idf, idf × each weight), in one float32 matrix: the scores of a
            # text are then a column sum of its rows (tens of MB less than Python floats).
            index: dict[str, int] = {}
            rows: list[list[float]] = []
            for term, row in data["terms"].items():
                if len(row) != width:
                    raise ValueError(f"term {term!r}: {len(row)} numbers, {width} expected")
                idf = float(row[0])
                index[str(term)] = len(rows)
                rows.append([idf, *(idf * float(x) for x in row[1:])])
            self.index = index
            self.matrix = np.asarray(rows, dtype=np.float32).reshape(len(rows), width)
            self.corpus_digest = str(data.get("corpus_digest", ""))
            self.thresholds: dict[str, float] = {
                str(k): float(v) for k, v in data.get("thresholds", {}).items()
            }
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"{source or 'text model'}: not a valid model ({exc})") from None
        self.heads = {h.name: h for h in heads}
        self.width = width
        self._predict = lru_cache(maxsize=64)(self._predict_uncached)

    @classmethod
    def load(cls, path: Path | str | None = None) -> TextModel:
        source = Path(path) if path is not None else DEFAULT_MODEL
        try:
            raw = source.read_bytes()
            text = gzip.decompress(raw) if source.suffix == ".gz" else raw
            data = json.loads(text)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{source}: cannot read the text model ({exc})") from None
        return cls(data, str(source))

    def _scores(self, text: str) -> list[float]:
        """Every head's raw scores for ``text``: the dot products of its L2-normalised binary
        TF-IDF vector with the weights, i.e. the column sums of its terms' rows over the norm."""
        found = [i for i in map(self.index.get, set(terms(text))) if i is not None]
        if not found:
            return [0.0] * self.width
        rows = self.matrix[found]
        norm = math.sqrt(float(np.dot(rows[:, 0], rows[:, 0])))
        return [float(x) / norm for x in rows.sum(axis=0, dtype=np.float64)]

    def predict(self, text: str) -> dict[str, Prediction]:
        """Every head's prediction for one (normalised) text; the last few are remembered, as
        understanding and screening ask about the same message."""
        return self._predict(text)

    def _predict_uncached(self, text: str) -> dict[str, Prediction]:
        scores = self._scores(text)
        out: dict[str, Prediction] = {}
        for head in self.heads.values():
            z = [scores[1 + head.start + i] + b for i, b in enumerate(head.bias)]
            top = max(z)
            e = [math.exp(x - top) for x in z]
            total = sum(e)
            ranked = sorted(zip(head.labels, (x / total for x in e), strict=True), key=lambda lp: -lp[1])
            out[head.name] = Prediction(tuple(ranked))
        return out


@cache
def default_model() -> TextModel:
    """The shipped model, read once per process."""
    return TextModel.load()
