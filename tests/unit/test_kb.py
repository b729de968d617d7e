"""Knowledge base: on-the-spot answers, validity periods (guangzhou §35), loading, measured quality."""

from __future__ import annotations

import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from intake.errors import ConfigError
from intake.kb import DEFAULT_ENTRIES_DIR, EntryKind, KnowledgeBase, latest_expiry, normalize
from intake.kb.entries import MAX_ANSWER_CHARS
from intake.kb.text import Segmenter
from intake.model import SHANGHAI

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from bench.kb_quality import PRECISION_FLOOR, RECALL_FLOOR, evaluate, load_questions  # noqa: E402

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def kb() -> KnowledgeBase:
    return KnowledgeBase.load()


def write_entry(folder: Path, name: str, **fields: str) -> Path:
    values = {
        "id": "extra-test",
        "kind": "guide",
        "unit": "市测试局",
        "basis": "《测试条例》第一条",
        "reviewed_on": "2026-10-01",
        "expires_on": "2027-09-30",
        "questions": '["图书馆借书证怎么办理", "怎么办借书证"]',
        "answer": '"借书证可携带身份证到市图书馆总服务台免费办理。"',
    }
    values.update(fields)
    body = "[[entry]]\n" + "".join(
        f"{k} = {v}\n" if k in {"reviewed_on", "expires_on", "questions", "answer"} else f'{k} = "{v}"\n'
        for k, v in values.items()
    )
    path = folder / name
    path.write_text(body, encoding="utf-8")
    return path


def test_starter_knowledge_base_is_large_and_well_formed(kb: KnowledgeBase) -> None:
    assert len(kb.entries) >= 80
    assert len({e.id for e in kb.entries}) == len(kb.entries)
    for entry in kb.entries:
        assert len(entry.answer) <= MAX_ANSWER_CHARS
        assert entry.unit and entry.basis and entry.questions
        assert entry.expires_on <= latest_expiry(entry.kind, entry.reviewed_on)
    assert {e.kind for e in kb.entries} == set(EntryKind)
    assert not kb.expired(NOW)


def test_a_clear_consultation_gets_the_answer_with_its_owner(kb: KnowledgeBase) -> None:
    ans = kb.answer("身份证丢了，怎么补办啊", NOW)
    assert ans is not None
    assert ans.entry_id == "id-card-lost"
    assert ans.unit == "市公安局"
    assert "居民身份证法" in ans.basis
    assert ans.confidence >= kb.threshold
    assert "补领" in ans.answer


@pytest.mark.parametrize(
    "text",
    [
        "身份證丟了怎麼補辦",  # traditional characters
        "ＳＨＥＮＦＥＮＺＨＥＮＧ身份证丢了怎么补办",  # full-width Latin mixed in
        "我的居民身份证遗失了怎么办理补领",  # synonyms: 居民身份证 / 遗失 / 补领
    ],
)
def test_traditional_full_width_and_synonyms_reach_the_same_entry(kb: KnowledgeBase, text: str) -> None:
    ans = kb.answer(text, NOW)
    assert ans is not None and ans.entry_id == "id-card-lost"


def test_normalize_folds_width_script_and_case() -> None:
    assert normalize("  身份證　ＡＢＣ１２３ ") == "身份证 abc123"


@pytest.mark.parametrize(
    "text",
    [
        "驾照科目二考试怎么预约",  # near miss: exams are not covered
        "公租房租金一个月多少钱",  # near miss: the rent is not covered
        "楼下烧烤店油烟太大，我要投诉",  # complaint
        "公积金",  # too little to choose an entry
        "你好",
        "",
    ],
)
def test_no_answer_when_not_confident(kb: KnowledgeBase, text: str) -> None:
    assert kb.answer(text, NOW) is None


def test_threshold_controls_on_the_spot_answers() -> None:
    text = "我的身份证昨天在公交上弄丢了，要怎么补办"
    default = KnowledgeBase.load()
    ans = default.answer(text, NOW)
    assert ans is not None and ans.confidence < 0.99
    assert KnowledgeBase.load(threshold=0.99).answer(text, NOW) is None
    lenient = KnowledgeBase.load(threshold=0.01)
    assert lenient.answer("公积金贷款利率现在是多少", NOW) is not None


def test_expired_entries_are_never_served_and_are_listed(tmp_path: Path) -> None:
    write_entry(tmp_path, "old.toml", reviewed_on="2025-01-01", expires_on="2025-12-31")
    kb = KnowledgeBase.load([DEFAULT_ENTRIES_DIR, tmp_path])
    assert kb.answer("借书证怎么办理", NOW) is None
    assert [e.id for e in kb.expired(NOW)] == ["extra-test"]
    # The same entry is served while it is valid.
    before = datetime(2025, 6, 1, 10, 0, tzinfo=SHANGHAI)
    ans = kb.answer("借书证怎么办理", before)
    assert ans is not None and ans.entry_id == "extra-test"


def test_starter_entries_expire_in_time(kb: KnowledgeBase) -> None:
    later = datetime(2032, 1, 1, tzinfo=SHANGHAI)
    assert len(kb.expired(later)) == len(kb.entries)
    assert kb.answer("身份证丢了怎么补办", later) is None


@pytest.mark.parametrize(
    ("kind", "reviewed", "too_late"),
    [
        ("policy", "2026-06-01", "2031-06-02"),
        ("guide", "2026-10-01", "2027-10-02"),
        ("wording", "2026-08-31", "2027-03-01"),
    ],
)
def test_loader_rejects_validity_beyond_the_kinds_period(
    tmp_path: Path, kind: str, reviewed: str, too_late: str
) -> None:
    path = write_entry(tmp_path, "e.toml", kind=kind, reviewed_on=reviewed, expires_on=too_late)
    with pytest.raises(ConfigError, match="guangzhou §35"):
        KnowledgeBase.load(path)


def test_validity_limits_follow_the_calendar() -> None:
    assert latest_expiry(EntryKind.WORDING, date(2026, 8, 31)) == date(2027, 2, 28)
    assert latest_expiry(EntryKind.GUIDE, date(2028, 2, 29)) == date(2029, 2, 28)
    assert latest_expiry(EntryKind.POLICY, date(2026, 6, 1)) == date(2031, 6, 1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "rumour"}, "kind"),
        ({"answer": '"' + "很长" * 101 + '"'}, "at most 200"),
        ({"questions": "[]"}, "at least one question"),
        ({"expires_on": "2026-09-01"}, "before reviewed_on"),
    ],
)
def test_loader_rejects_malformed_entries(tmp_path: Path, fields: dict[str, str], message: str) -> None:
    path = write_entry(tmp_path, "e.toml", **fields)
    with pytest.raises(ConfigError, match=message):
        KnowledgeBase.load(path)


def test_extra_folder_adds_entries_and_duplicate_ids_are_refused(tmp_path: Path) -> None:
    write_entry(tmp_path, "library.toml")
    kb = KnowledgeBase.load([DEFAULT_ENTRIES_DIR, tmp_path])
    ans = kb.answer("我想办一张图书馆的借书证", NOW)
    assert ans is not None and ans.entry_id == "extra-test"
    write_entry(tmp_path, "copy.toml", id="id-card-lost")
    with pytest.raises(ConfigError, match="already defined"):
        KnowledgeBase.load([DEFAULT_ENTRIES_DIR, tmp_path])


def test_naive_now_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        kb.answer("身份证丢了怎么补办", datetime(2026, 12, 1))


def test_quality_floors_on_the_labelled_set(kb: KnowledgeBase) -> None:
    """A wrong answer is worse than a ticket: precision >= 0.95, recall >= 0.70 (bench/kb_quality.py)."""
    questions, evaluated_on = load_questions()
    assert len(questions) >= 150
    assert sum(1 for _, expect in questions if expect == "none") >= 40
    ids = {e.id for e in kb.entries}
    assert {expect for _, expect in questions} - {"none"} <= ids
    now = datetime(evaluated_on.year, evaluated_on.month, evaluated_on.day, 10, tzinfo=SHANGHAI)
    quality = evaluate(kb, questions, now)
    assert quality.precision >= PRECISION_FLOOR, [o for o in quality.outcomes if o.got and o.got != o.expect]
    assert quality.recall >= RECALL_FLOOR


def test_segmenters_share_jiebas_dictionary_but_not_their_own_words() -> None:
    """Each knowledge base reads jieba's general dictionary once per process (intake/kb/text.py);
    the words one segmenter adds never change how another one cuts."""
    text = "幸福里东苑门口路灯不亮"
    with_word = Segmenter(words=["幸福里东苑"])
    plain = Segmenter()
    assert "幸福里东苑" in [w for w, _ in with_word.units(text)]
    assert "幸福里东苑" not in [w for w, _ in plain.units(text)]
    assert "幸福里东苑" in [w for w, _ in with_word.units(text)]  # and the first keeps its word
    assert plain.rarity("工作") == with_word.rarity("工作") < 0.5  # the same general frequencies
