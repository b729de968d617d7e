"""The pure dialog: emergencies in every stage, bad input, and invariants over random input
(hypothesis): every message stored, never two drafts open, a hidden value never in a reply."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intake import texts
from intake.dialog import (
    CloseDraft,
    DialogState,
    HandledTicket,
    RecordScreening,
    Register,
    ScreenOutcome,
    Stage,
    StepContext,
    StepResult,
    TicketSummary,
    ToAgent,
    step,
)
from intake.model import Category, Channel, Field, TicketStatus
from tests.samples.conversations import FULL_COMPLAINT
from tests.samples.conversations_driver import START, FakeWorld, policy, screening

FIRE = "我家着火了"


def _ctx(**kw: object) -> StepContext:
    base = FakeWorld("guangzhou", Channel.WEBCHAT).context()
    return StepContext(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **kw})  # type: ignore[arg-type]


STAGES = {
    Stage.IDLE: DialogState(),
    Stage.CONFIRM_CATEGORY: DialogState(
        stage=Stage.CONFIRM_CATEGORY, draft_id=3, choices=("投诉", "举报", "咨询")
    ),
    Stage.CHOOSE_CATEGORY: DialogState(stage=Stage.CHOOSE_CATEGORY, draft_id=3, choices=("投诉", "咨询")),
    Stage.HIDE_ITEMS: DialogState(
        stage=Stage.HIDE_ITEMS, draft_id=3, category=Category.COMPLAINT, anonymous=True
    ),
    Stage.REAL_NAME: DialogState(stage=Stage.REAL_NAME, draft_id=3, category=Category.REPORT, anonymous=True),
    Stage.COLLECTING: DialogState(
        stage=Stage.COLLECTING, draft_id=3, category=Category.COMPLAINT, asked=(Field.PHONE, Field.ADDRESS)
    ),
    Stage.CHOOSE_TICKET: DialogState(
        stage=Stage.CHOOSE_TICKET, choices=("20261120-000001", "20261120-000002")
    ),
    Stage.KB_ANSWERED: DialogState(
        stage=Stage.KB_ANSWERED, values={Field.CONTENT: "护照怎么办"}, kb_entry="x"
    ),
    Stage.REPEAT: DialogState(
        stage=Stage.REPEAT, values={Field.CONTENT: "烧烤店油烟"}, repeat_of="20261120-000001"
    ),
}


def test_every_stage_is_covered() -> None:
    assert set(STAGES) == set(Stage)


def test_an_emergency_is_redirected_first_in_every_stage() -> None:
    for stage, state in STAGES.items():
        result = step(state, FIRE, _ctx())
        assert "119" in result.replies[0].text, stage
        assert len(result.replies) == 1, stage
        assert [type(a) for a in result.actions] == [RecordScreening], stage
        assert result.state == state, stage  # the draft in progress is kept


def test_an_emergency_inside_an_over_long_message_is_still_redirected() -> None:
    result = step(DialogState(), FIRE + "。" + "很" * 20000, _ctx())
    assert "119" in result.replies[0].text


def test_step_is_pure_the_same_input_gives_the_same_output() -> None:
    ctx = _ctx()
    state = STAGES[Stage.COLLECTING]
    assert step(state, "电话13800138000", ctx) == step(state, "电话13800138000", ctx)


def test_a_repeat_is_answered_with_the_earlier_number_and_result() -> None:
    handled = (HandledTicket("20261101-000007", "幸福小区3栋楼下的烧烤店每晚油烟很大", "已责令整改"),)
    result = step(DialogState(), FULL_COMPLAINT, _ctx(handled=handled))
    assert "20261101-000007" in result.replies[0].text and "已责令整改" in result.replies[0].text
    assert result.state.stage is Stage.REPEAT


def test_withdrawal_names_one_of_several_open_tickets() -> None:
    tickets = [
        TicketSummary("20261120-000001", TicketStatus.REGISTERED, "投诉", None),
        TicketSummary("20261120-000002", TicketStatus.SIGNED, "举报", None),
    ]
    result = step(DialogState(), "撤回 20261120-000002", _ctx(open_tickets=tickets))
    assert [getattr(a, "number", None) for a in result.actions] == ["20261120-000002"]


# -- properties -----------------------------------------------------------------------------------
PIECES = st.sampled_from(
    [
        FULL_COMPLAINT,
        "我要投诉，小区楼下烧烤店每晚油烟很大",
        "我要匿名投诉，东风路的工地夜里施工噪音很大，希望管一管",
        "全部隐藏",
        "电话13800138000，地址：幸福小区3栋，希望城管处理",
        "查询进度",
        "撤回",
        "补充一下，还有噪音",
        "请问新生儿医保怎么办理",
        "没解决",
        "投诉",
        "1",
        "取消",
        "继续实名办理",
        "我家着火了",
        "谢谢",
    ]
)
TEXTS = st.one_of(PIECES, st.text(max_size=60), st.text(alphabet=st.characters(codec="utf-8"), max_size=30))
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(st.lists(TEXTS, min_size=1, max_size=8))
def test_random_messages_never_raise_and_keep_the_invariants(messages: list[str]) -> None:
    world = FakeWorld("guangzhou", Channel.WEBCHAT)
    for text in messages:
        replies = world.say(text)
        # every message gets an answer, unless a person has the conversation (issue 19: the bot is quiet)
        assert replies or world.with_agent, f"no reply to {text!r}"
        assert all(r.text.strip() for r in replies)
        drafts = [r for r in world.rows() if r.status is TicketStatus.COLLECTING]
        assert len(drafts) <= 1, "two drafts open on one channel"
        if world.state.draft_id is not None:
            assert drafts and drafts[0].id == world.state.draft_id
    assert world.inbound == messages  # every inbound message is stored


@SLOW
@given(st.lists(PIECES, min_size=1, max_size=6), st.sampled_from(["huizhou", "quxian", "guangxi"]))
def test_a_hidden_phone_never_appears_in_any_reply(after: list[str], profile: str) -> None:
    world = FakeWorld(profile, Channel.WEBCHAT)
    heard = [*world.say("我要匿名投诉，东风路的工地夜里施工噪音很大，希望管一管")]
    heard += world.say("全部隐藏")
    for text in ["我电话是13900001111", *after]:
        heard += world.say(text)
    assert all("13900001111" not in r.text for r in heard)


def test_the_adapters_are_shared_per_profile() -> None:
    assert policy("guangzhou") is policy("guangzhou")
    assert screening("quxian") is screening("quxian")
    assert START.tzinfo is not None


# ---- confidence, not a menu (issue 16) ------------------------------------------------------------
class _Unsure:
    """An understanding that is unsure between 投诉 and 举报 about every new matter."""

    def __init__(self, confirm: bool = True) -> None:
        self.confirm = confirm
        self.real = FakeWorld("guangzhou", Channel.WEBCHAT).context().understanding

    def understand(self, text: str):  # type: ignore[no-untyped-def]
        from dataclasses import replace

        u = self.real.understand(text)
        if len(text) > 8:
            ranked = (Category.COMPLAINT, Category.REPORT, Category.HELP)
            return replace(u, category=Category.COMPLAINT if self.confirm else None, confident=False,
                           confirm=self.confirm, candidates=ranked)  # fmt: skip
        return u

    def fill(self, wanted, text):  # type: ignore[no-untyped-def]
        return self.real.fill(wanted, text)

    def is_meaningless(self, text: str) -> bool:
        return bool(self.real.is_meaningless(text))


MATTER = "天河区华景新城楼下有家店每天晚上搞到很晚"


def _category_taken(result: StepResult) -> Category | None:
    """The category the turn went on with: in the draft, or in the ticket it registered (the
    matter above already names the place and the party)."""
    registered = [a.state.category for a in result.actions if isinstance(a, Register)]
    return registered[0] if registered else result.state.category


def test_an_unsure_guess_is_asked_as_one_yes_no_question() -> None:
    result = step(DialogState(), MATTER, _ctx(understanding=_Unsure()))
    assert result.state.stage is Stage.CONFIRM_CATEGORY
    assert result.replies[0].text == "请确认：您是要投诉，请有关部门依法处理吗？"
    assert result.replies[0].choices == ("是", "不是")
    assert result.state.category is None  # not taken before the citizen says so


@pytest.mark.parametrize("yes", ["是", "是的。", "对", "1", "OK"])
def test_yes_takes_the_guess(yes: str) -> None:
    ctx = _ctx(understanding=_Unsure())
    asked = step(DialogState(), MATTER, ctx).state
    result = step(asked, yes, ctx)
    assert result.state.category is Category.COMPLAINT
    assert result.state.stage is not Stage.CONFIRM_CATEGORY


@pytest.mark.parametrize("no", ["不是", "不对", "2"])
def test_no_offers_the_other_categories_likeliest_first(no: str) -> None:
    ctx = _ctx(understanding=_Unsure())
    asked = step(DialogState(), MATTER, ctx).state
    result = step(asked, no, ctx)
    assert result.state.stage is Stage.CHOOSE_CATEGORY
    assert "投诉" not in result.replies[0].choices
    assert result.replies[0].choices[:2] == ("举报", "求助")
    assert _category_taken(step(result.state, "举报", ctx)) is Category.REPORT


def test_a_category_named_instead_of_yes_is_taken() -> None:
    ctx = _ctx(understanding=_Unsure())
    asked = step(DialogState(), MATTER, ctx).state
    assert _category_taken(step(asked, "举报", ctx)) is Category.REPORT


def test_an_answer_that_is_neither_asks_again() -> None:
    ctx = _ctx(understanding=_Unsure())
    asked = step(DialogState(), MATTER, ctx).state
    result = step(asked, "这个怎么说呢", ctx)
    assert result.state == replace(asked, misses=1)  # once; twice and a person takes over
    assert "是" in result.replies[0].text and result.replies[-1].choices == ("是", "不是")
    again = step(result.state, "这个怎么说呢", ctx)
    assert again.replies == () and [type(a) for a in again.actions] == [ToAgent]
    assert again.state == asked  # the question is kept for when the person hands back


def test_with_no_idea_the_buttons_come_likeliest_first() -> None:
    result = step(DialogState(), MATTER, _ctx(understanding=_Unsure(confirm=False)))
    assert result.state.stage is Stage.CHOOSE_CATEGORY
    assert result.replies[0].choices[:3] == ("投诉", "举报", "求助")
    assert len(result.replies[0].choices) == 6


def test_choices_go_into_the_text_on_sms_and_mail() -> None:
    assert (
        texts.numbered("请确认：您是要投诉吗？", ("是", "不是"))
        == "请确认：您是要投诉吗？\n1 是\n2 不是\n请回复序号或文字。"
    )
    assert texts.numbered("谢谢", ()) == "谢谢"


class _Cautious:
    """Screening that is unsure of every text: the caution line, and nothing else decided."""

    CAUTION = "如果现在有人身安全危险，请立即拨打120急救电话。"

    def screen(self, text: str) -> ScreenOutcome | None:
        return ScreenOutcome(
            kind="caution", rule_id="model.medical.caution", reply=self.CAUTION, caution=self.CAUTION
        )


@pytest.mark.parametrize("stage", [Stage.IDLE, Stage.COLLECTING])
def test_a_caution_comes_first_and_the_request_goes_on(stage: Stage) -> None:
    ctx = _ctx(screening=_Cautious())
    text = "我要投诉，楼下烧烤店油烟太大，我妈闻了一直咳嗽"
    plain = step(STAGES[stage], text, _ctx())
    cautioned = step(STAGES[stage], text, ctx)
    assert cautioned.replies[0].text == _Cautious.CAUTION
    assert cautioned.cautioned == "model.medical.caution"
    assert cautioned.replies[1:] == plain.replies  # the same answer after it
    assert cautioned.state == plain.state and cautioned.actions == plain.actions
    assert not any(isinstance(a, RecordScreening) for a in cautioned.actions)


class _TwoSupplements:
    """The sample profile with max_supplements = 2."""

    def __init__(self, base: object) -> None:
        self._base = base

    def __getattr__(self, name: str) -> object:
        return getattr(self._base, name)

    def supplements_allowed(self) -> int:
        return 2


def test_the_profiles_number_of_supplements_is_kept() -> None:
    """guangzhou §12.2 allows one supplement (every shipped profile) to a request the hotline
    reviewed, such as a mail; a profile allowing two asks once more before closing, and says how
    many are left."""
    collecting = STAGES[Stage.COLLECTING]
    once = step(collecting, "电话13800138000", _ctx(channel=Channel.EMAIL))
    assert any(isinstance(a, CloseDraft) for a in once.actions)
    assert "只能补充一次" in once.replies[0].text
    ctx = _ctx(policy=_TwoSupplements(_ctx().policy), channel=Channel.EMAIL)
    first = step(collecting, "电话13800138000", ctx)
    assert first.state.stage is Stage.COLLECTING and Field.ADDRESS in first.state.asked
    assert Field.PHONE not in first.state.asked  # given: not asked again
    assert "还可补充1次" in first.replies[0].text and not any(
        isinstance(a, CloseDraft) for a in first.actions
    )
    second = step(first.state, "我也不知道", ctx)
    assert any(isinstance(a, CloseDraft) for a in second.actions)
    assert "只能补充两次" in second.replies[0].text


@pytest.mark.parametrize("channel", [Channel.WEBCHAT, Channel.TELEGRAM, Channel.SMS])
def test_a_live_conversation_is_never_closed_for_what_is_still_missing(channel: Channel) -> None:
    """Issue 19: in a conversation the bot keeps what was said and asks for the rest, however
    often; nothing is closed and nothing is lost."""
    state = STAGES[Stage.COLLECTING]
    for answer in ("电话13800138000", "我也不知道", "嗯"):
        result = step(state, answer, _ctx(channel=channel))
        assert not any(isinstance(a, CloseDraft) for a in result.actions), answer
        assert result.state.stage is Stage.COLLECTING and result.state.draft_id == state.draft_id
        state = result.state
    assert state.values.get(Field.PHONE) == "+8613800138000"  # kept from the first answer
    assert Field.PHONE not in state.asked


def test_choices_are_buttons_only_where_the_channel_has_them() -> None:
    assert {c for c in Channel if c.has_buttons} == {Channel.WEBCHAT, Channel.TELEGRAM}
    numbered = texts.numbered("请问您的诉求属于哪一类？", ("投诉", "举报"))
    assert numbered.splitlines()[1:3] == ["1 投诉", "2 举报"]


def test_the_prompt_hints_the_address_format_only_for_an_address_and_explains_a_phone() -> None:
    """Issue 19: an address format hint appeared when no address was asked; nothing said why a
    phone number is asked before it was."""
    both = texts.ask_missing([Field.PHONE, Field.ADDRESS])
    assert "地址：…" in both and "仅用于办理本诉求" in both
    neither = texts.ask_missing([Field.SUBJECT, Field.DEMAND])
    assert "地址：…" not in neither and "仅用于办理本诉求" not in neither
    asked = step(DialogState(), "我要投诉，小区楼下烧烤店每晚油烟很大", _ctx())
    assert "仅用于办理本诉求" in asked.replies[-1].text  # the phone is among the missing
