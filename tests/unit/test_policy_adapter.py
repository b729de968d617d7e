"""The dialog's view of a profile: templates, real-name matters, windows and deadlines."""

from __future__ import annotations

import datetime as dt

from intake.model import SHANGHAI, Category, Channel, Field
from intake.policy import ProfilePolicy, load_profile


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> dt.datetime:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=SHANGHAI)


def eod(y: int, m: int, d: int) -> dt.datetime:
    return at(y, m, d, 23, 59, 59)


def test_templates_and_real_name_titles() -> None:
    policy = ProfilePolicy(load_profile("guangzhou"))
    assert policy.name == "guangzhou"
    assert Category.PRAISE in policy.categories()
    assert Field.DEMAND in policy.required_fields(Category.COMPLAINT)
    assert policy.real_name_matter("我要查询本人社保记录") == "查询本人信息"
    assert policy.real_name_matter("路灯坏了") is None


def test_supplement_window_per_channel_kind() -> None:
    policy = ProfilePolicy(load_profile("guangzhou"))
    assert policy.supplement_window(Channel.WEBCHAT) == dt.timedelta(days=3)  # guangzhou §12.2
    assert policy.supplement_window(Channel.PHONE) == dt.timedelta(minutes=45)  # 3 calls, 15 min apart


def test_registration_deadline_is_the_latest_the_rules_allow() -> None:
    """Friday evening 2026-02-13, guangzhou complaint: dispatch by Sat 14 (make-up) → Fri Mar 6."""
    policy = ProfilePolicy(load_profile("guangzhou"))
    deadline, provisional = policy.registration_deadline(
        Category.COMPLAINT, None, Channel.WEBCHAT, at(2026, 2, 13, 19, 30)
    )
    assert (deadline, provisional) == (eod(2026, 3, 6), False)
    assert policy.registration_deadline(Category.PRAISE, None, Channel.SMS, at(2026, 2, 13, 19, 30)) == (
        None,
        False,
    )
    _, provisional = policy.registration_deadline(
        Category.COMPLAINT, None, Channel.SMS, at(2026, 12, 24, 9, 0)
    )
    assert provisional


def test_rehandling_opens_only_on_a_first_dissatisfied_answer() -> None:
    gz = ProfilePolicy(load_profile("guangzhou"))
    now = at(2026, 3, 16, 9, 0)
    # guangzhou §29: same limit as the original 10 WD: Mar 17..20, 23..27, 30
    assert gz.rehandling_deadline("投诉", "不满意", 1, now) == eod(2026, 3, 30)
    assert gz.rehandling_deadline("投诉", "满意", 1, now) is None
    assert gz.rehandling_deadline("投诉", "非常不满意", 2, now) is None  # the second evaluation stands
    # shaoyang §17: 5 WD
    assert ProfilePolicy(load_profile("shaoyang")).rehandling_deadline("投诉", "不满意", 1, now) == eod(
        2026, 3, 23
    )
    # quxian §12: no re-handling, the unit may ask for 甄别 instead
    assert ProfilePolicy(load_profile("quxian")).rehandling_deadline("投诉", "不满意", 1, now) is None
