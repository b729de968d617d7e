"""The profile's value types: limits, merged urgent limits, templates."""

from __future__ import annotations

import datetime as dt

import pytest

from intake.errors import InvalidInput
from intake.model import Category
from intake.policy import ClockStart, Limit, Unit, load_profile


def test_limit_texts_and_elapsed_time() -> None:
    assert str(Limit(10, Unit.WORKDAYS, "guangzhou §14")) == "10个工作日"
    assert str(Limit(0, Unit.WORKDAYS, "shaoyang §13")) == "当日"
    assert Limit(3, Unit.NATURAL_DAYS, "guangzhou §12").as_timedelta() == dt.timedelta(days=3)
    assert Limit(30, Unit.MINUTES, "guangxi §26").as_timedelta() == dt.timedelta(minutes=30)
    with pytest.raises(ValueError, match="not an elapsed time"):
        Limit(2, Unit.WORKDAYS, "x").as_timedelta()


def test_original_relative_limits_resolve_against_the_original() -> None:
    original = Limit(15, Unit.WORKDAYS, "huizhou §13.1")
    assert Limit(1, Unit.ORIGINAL, "huizhou §13").scaled(original) == Limit(
        15, Unit.WORKDAYS, "huizhou §13; huizhou §13.1"
    )
    assert Limit(10, Unit.WORKDAYS, "shaoyang §14").scaled(original).amount == 10


def test_urgent_class_overrides_only_what_it_sets() -> None:
    qx = load_profile("quxian")
    plain = qx.limits(Category.HELP)
    special = qx.limits(Category.HELP, "special")
    assert special.handling == plain.handling  # quxian §11.4 sets response times, not a handling limit
    assert special.first_response is not None and plain.first_response is None
    hz = load_profile("huizhou")
    major = hz.limits(Category.COMPLAINT, "major")
    assert major.handling is not None and major.handling.unit is Unit.NATURAL_DAYS
    assert major.clock_start is ClockStart.ON_RECEIPT
    assert not major.extendable


def test_unknown_category_or_urgent_class_is_invalid_input() -> None:
    hz = load_profile("huizhou")
    with pytest.raises(InvalidInput, match="表扬"):
        hz.template(Category.PRAISE)
    with pytest.raises(InvalidInput, match="flood"):
        hz.limits(Category.HELP, "flood")
