"""A profile with a missing or contradictory field stops start-up with file, field and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.errors import ConfigError
from intake.model import Category, Field
from intake.policy import PROFILE_NAMES, PROFILES_DIR, load_profile

BASE = (PROFILES_DIR / "guangzhou.toml").read_text(encoding="utf-8")


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refuse(tmp_path: Path, old: str, new: str) -> str:
    assert old in BASE, f"test setup: {old!r} not in guangzhou.toml"
    path = write(tmp_path, BASE.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        load_profile(str(path))
    message = info.value.message
    assert "\n" not in message, "one line"
    assert message.startswith(f"{path}: ") or message.startswith("x.toml: ")
    return message


@pytest.mark.parametrize("name", PROFILE_NAMES)
def test_every_shipped_profile_loads(name: str) -> None:
    profile = load_profile(name)
    assert profile.name == name
    assert set(profile.categories) >= {
        Category.CONSULTATION,
        Category.HELP,
        Category.COMPLAINT,
        Category.REPORT,
        Category.SUGGESTION,
    }
    assert profile.path.endswith(f"{name}.toml")


def test_the_error_names_file_field_and_reason(tmp_path: Path) -> None:
    message = refuse(
        tmp_path,
        'handling = { wd = 10, source = "guangzhou §14.2" }\ntemplate = { required = ["phone", "subject"',
        'handling = { wd = 0, source = "guangzhou §14.2" }\ntemplate = { required = ["phone", "subject"',
    )
    assert message.endswith("x.toml: categories.投诉.handling: must be a positive number of working days")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'handling = { wd = 2, source = "guangzhou §14.1" }',
            'handling = { h = 2, source = "x" }',
            "categories.咨询.handling: must be a positive number of working days",
        ),
        (
            'handling = { wd = 2, source = "guangzhou §14.1" }',
            "handling = { wd = 2 }",
            "categories.咨询.handling: must cite its article",
        ),
        ('handling = { wd = 2, source = "guangzhou §14.1" }\n', "", "categories.咨询.handling: missing"),
        ('[categories."意见建议"]', '[categories."建议"]', "categories.建议: unknown category"),
        (
            'optional = ["name", "home_address"]',
            'optional = ["name", "phone"]',
            "categories.投诉.template.optional: phone is also required",
        ),
        (
            'required = ["content"], optional',
            'required = ["name"], optional',
            "categories.咨询.template.required: must include content",
        ),
        (
            'required = ["content"], optional',
            'required = ["content", "mood"], optional',
            "categories.咨询.template.required: unknown field 'mood'",
        ),
        (
            "read_and_close = true",
            'read_and_close = true\nhandling = { wd = 1, source = "x" }',
            "categories.表扬.handling: contradicts read_and_close",
        ),
        ("max_count = 2", "max_count = -1", "extensions.max_count: must be a whole number >= 0"),
        (
            "never_categories = []\nnever_urgent = false\ncitizen_told = true",
            'never_categories = ["表杨"]\nnever_urgent = false\ncitizen_told = true',
            "extensions.never_categories: unknown category",
        ),
        (
            'silence_means = "not_evaluated"',
            'silence_means = "happy"',
            "evaluation.silence_means: must be one of",
        ),
        (
            'levels = ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]',
            'levels = ["满意", "不满意"]',
            "evaluation.levels: must be exactly",
        ),
        ("rehandling_rounds = 1", "rehandling_rounds = 0", "evaluation.rehandling_limit: contradicts"),
        (
            "enabled = false",
            'enabled = false\nyellow_before = { wd = 1, source = "x" }',
            "warnings.enabled: is false but yellow_before",
        ),
        ("enabled = false", "enabled = true", "warnings.yellow_before: missing"),
        (
            'reason = "guangzhou names no yellow',
            'fallbackx = "guangzhou names no yellow',
            "warnings.reason: a fallback must say why",
        ),
        (
            'fallback = "none"\nreason = "guangzhou names no yellow',
            'fallback = "beijing"\nreason = "guangzhou names no yellow',
            "warnings.fallback: must start with a profile name",
        ),
        (
            '[harassment]\nfallback = "none"\nreason = "guangzhou §9 asks citizens not to occupy the line '
            'without reason but sets no restriction"',
            '[harassment]\nsource = "guangzhou §9"',
            "harassment.restriction_days: 0 (no restriction) needs fallback",
        ),
        (
            "phone_attempts = 3",
            "phone_attempts = 0",
            "supplement.phone_attempts: must be a whole number >= 1",
        ),
        (
            "close_when_refused = true",
            "close_when_refused = false",
            "supplement.close_when_refused: only true is supported",
        ),
        (
            "same_identity = true",
            "same_identity = true\nsame_identiy = true",
            "withdrawal.same_identiy: unknown key",
        ),
        (
            'after_dispatch = "unit_closes"',
            'after_dispatch = "nobody"',
            "withdrawal.after_dispatch: must be one of",
        ),
        (
            '[urgent]\nfallback = "none"',
            '[urgent]\nfallback = "none"\nsource = "x"\nreasonx = "y"',
            "urgent.reasonx: unknown key",
        ),
    ],
)
def test_missing_or_contradictory_fields_are_refused(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    assert expected in refuse(tmp_path, old, new)


def test_a_missing_core_category_is_refused(tmp_path: Path) -> None:
    start = BASE.index('[categories."举报"]')
    end = BASE.index('[categories."意见建议"]')
    path = write(tmp_path, BASE[:start] + BASE[end:])
    with pytest.raises(ConfigError, match=r"categories\.举报: missing"):
        load_profile(str(path))


def test_invalid_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_profile(str(write(tmp_path, "name = ")))
    with pytest.raises(ConfigError, match="cannot read the profile"):
        load_profile(str(tmp_path / "absent.toml"))


def test_unknown_profile_name() -> None:
    with pytest.raises(ConfigError, match="HOTLINE_POLICY: unknown profile 'beijing'"):
        load_profile("beijing")


def test_profiles_dir_lets_an_operator_add_a_city(tmp_path: Path) -> None:
    write(tmp_path, BASE.replace('name = "guangzhou"', 'name = "beijing"'), "beijing.toml")
    assert load_profile("beijing", profiles_dir=tmp_path).name == "beijing"


def test_calendar_overrides_are_validated_at_load(tmp_path: Path) -> None:
    (tmp_path / "2027.toml").write_text('year = 2027\nsource = "x"\nholidays = []\nworkdays = []\n')
    with pytest.raises(ConfigError, match=r"2027\.toml: holidays"):
        load_profile("guangzhou", calendar_overrides=tmp_path)


def test_defaults_are_inherited_and_can_be_overridden() -> None:
    gz = load_profile("guangzhou")
    assert gz.limits(Category.COMPLAINT).sign is not None
    assert gz.limits(Category.COMPLAINT).sign == gz.limits(Category.HELP).sign
    gx = load_profile("guangxi")
    assert gx.limits(Category.COMPLAINT).sign is None  # sign = false in defaults
    assert gx.template(Category.COMPLAINT).required[0] is Field.PHONE
