"""The citizen's own word for the category ("我要举报…") against what the text model reads in the
matter they tell (intake/understanding.py; issue 16: label what they want done, GUIDE.md)."""

from __future__ import annotations

from intake.model import Category
from intake.textmodel import TextModel
from intake.understanding import ExtractUnderstanding

LABELS = ["咨询", "求助", "投诉", "举报", "意见建议", "表扬"]
TEXT = "我要举报楼上养的鹦鹉每天早上五点就开始叫"


def _model(weight: float) -> TextModel:
    """A model that reads 鹦鹉 as a 投诉 with this weight (8: p ≈ 1.0; 1: p ≈ 0.35)."""
    return TextModel(
        {
            "heads": {"category": {"labels": LABELS, "bias": [0.0] * 6}},
            "terms": {"鹦鹉": [1.0, 0.0, 0.0, weight, 0.0, 0.0, 0.0]},
            "thresholds": {"category_sure": 0.5, "category_confirm": 0.2},
        }
    )


def test_a_model_surely_reading_another_category_asks_with_the_own_word_next() -> None:
    u = ExtractUnderstanding(_model(8.0)).understand(TEXT)
    assert (u.category, u.confident, u.confirm) == (Category.COMPLAINT, False, True)
    assert u.candidates[:2] == (Category.COMPLAINT, Category.REPORT)  # 不是 → 举报 offered first


def test_an_unsure_model_leaves_the_citizens_own_word() -> None:
    u = ExtractUnderstanding(_model(1.0)).understand(TEXT)
    assert (u.category, u.confident, u.confirm) == (Category.REPORT, True, False)
