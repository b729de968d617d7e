"""The keyword files are data an operator edits; a mistake stops start-up with a clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.errors import ConfigError
from intake.extract import extract, load_lexicon, warm_up
from intake.model import Category

DATA = Path(__file__).resolve().parents[2] / "intake" / "data"


def test_shipped_files_load() -> None:
    warm_up()
    lex = load_lexicon(DATA / "categories.toml", DATA / "lexicon.toml")
    assert set(lex.cues) == set(Category)


def test_an_operator_added_word_changes_the_category(tmp_path: Path) -> None:
    categories = (DATA / "categories.toml").read_text(encoding="utf-8")
    edited = categories.replace('strong = [\n  "违法"', 'strong = [\n  "飙车", "违法"')
    assert edited != categories
    (tmp_path / "categories.toml").write_text(edited, encoding="utf-8")
    lex = load_lexicon(tmp_path / "categories.toml", DATA / "lexicon.toml")
    assert extract("每天晚上有人在江边飙车", lex).category is Category.REPORT
    assert extract("每天晚上有人在江边飙车").category is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not = [toml", "cannot read"),
        ("[scoring]\nexplicit = 10\n", "scoring"),
        (
            "[scoring]\nexplicit = 1\nstrong = 1\nweak = 1\nconfident_at = 0.5\n"
            "[category.gossip]\nexplicit = []\n",
            "unknown category",
        ),
        (
            "[scoring]\nexplicit = 1\nstrong = 1\nweak = 1\nconfident_at = 0.5\n"
            "[category.praise]\nexplicit = [1]\n",
            "list of non-empty strings",
        ),
    ],
)
def test_broken_files_raise_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "categories.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_lexicon(path, DATA / "lexicon.toml")


def test_missing_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_lexicon(tmp_path / "nope.toml", DATA / "lexicon.toml")
