"""The text model as the product reads it (intake/textmodel.py): a file of plain numbers."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import pytest

from intake.errors import ConfigError
from intake.textmodel import WORD, TextModel, default_model, terms

TINY = {
    "heads": {"category": {"labels": ["投诉", "咨询"], "bias": [0.0, 0.0]}},
    "terms": {"投诉": [2.0, 1.0, -1.0], "请问": [1.5, -1.0, 1.0]},
    "thresholds": {"category_sure": 0.6},
}


def test_scores_are_the_dot_products_of_the_normalised_binary_tfidf_vector() -> None:
    model = TextModel(TINY)
    p = model.predict("我要投诉")["category"]  # one known term: (2·1) / 2 = 1 against −1
    assert p.best == "投诉"
    assert p.p == pytest.approx(1 / (1 + math.exp(-2.0)))
    both = model.predict("请问投诉")["category"]  # 2·1 + 1.5·(−1) over √(4 + 2.25)
    assert both.prob("投诉") > both.prob("咨询")
    assert sum(pr for _, pr in both.ranked) == pytest.approx(1.0)


def test_a_text_with_no_known_term_gives_the_priors() -> None:
    p = TextModel(TINY).predict("abc")["category"]
    assert p.prob("投诉") == pytest.approx(0.5)


def test_features_are_character_ngrams_and_words_kept_apart() -> None:
    found = terms("楼下烧烤店油烟很大")
    assert "烧烤" in found and "油烟很" in found
    assert any(t.startswith(WORD) for t in found)
    assert all(not t.isdigit() or t == "0" for t in terms("电话13800138000"))  # digits are one 0


@pytest.mark.parametrize(
    "broken",
    [
        {},
        {"heads": {"category": {"labels": ["投诉"], "bias": [0.0]}}, "terms": {}},
        {"heads": TINY["heads"], "terms": {"投诉": [1.0]}},
    ],
)
def test_a_broken_model_file_is_refused_at_start_up(broken: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        TextModel(broken)


def test_a_missing_or_garbled_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        TextModel.load(tmp_path / "missing.json.gz")
    bad = tmp_path / "bad.json.gz"
    bad.write_bytes(gzip.compress(b"{not json"))
    with pytest.raises(ConfigError):
        TextModel.load(bad)
    good = tmp_path / "good.json.gz"
    good.write_bytes(gzip.compress(json.dumps(TINY).encode()))
    assert TextModel.load(good).thresholds == {"category_sure": 0.6}


def test_the_shipped_model_has_the_heads_the_product_reads() -> None:
    model = default_model()
    assert set(model.heads) == {"category", "emergency", "scope"}
    assert set(model.heads["category"].labels) == {"咨询", "求助", "投诉", "举报", "意见建议", "表扬"}
    assert "none" in model.heads["emergency"].labels
    assert {"in", "other_city"} <= set(model.heads["scope"].labels)
    assert {"emergency", "scope", "other_city", "category_sure", "category_confirm"} <= set(model.thresholds)
