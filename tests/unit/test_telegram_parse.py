"""The Telegram parser: recorded-shape updates in, our vocabulary out; hostile input never raises."""

from __future__ import annotations

import copy
import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from telegram import Update

from channels.telegram_parse import (
    CALLBACK_DATA_MAX_BYTES,
    EDITED_NOTE,
    GROUP_NOTE,
    STALE_CHOICE_NOTE,
    TEXT_ONLY_NOTE,
    TOO_LONG_NOTE,
    CallbackChoice,
    Command,
    Ignored,
    IgnoreReason,
    decode_choice,
    encode_choice,
    parse_update,
    verify_secret,
)
from intake.model import SHANGHAI, Address, Channel, InboundMessage

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "telegram"
NOW = datetime(2026, 11, 21, 10, 5, tzinfo=SHANGHAI)
BOT = "hotline_test_bot"
CITIZEN = Address(Channel.TELEGRAM, "5012345678")


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def parse(data: object) -> object:
    return parse_update(data, NOW, bot_username=BOT)


def check_private_text(data: dict[str, Any], result: object) -> None:
    assert result == InboundMessage(CITIZEN, data["message"]["text"], NOW, str(data["update_id"]))


def command(name: str, *args: str):
    def check(data: dict[str, Any], result: object) -> None:
        assert isinstance(result, Command)
        assert (result.name, result.args, result.address, result.known) == (name, args, CITIZEN, True)
        assert result.update_id == data["update_id"]

    return check


def ignored(reason: IgnoreReason, note: str | None, address: Address | None):
    def check(data: dict[str, Any], result: object) -> None:
        assert isinstance(result, Ignored)
        assert (result.reason, result.note, result.address) == (reason, note, address)

    return check


def check_callback(data: dict[str, Any], result: object) -> None:
    assert isinstance(result, CallbackChoice)
    assert result.message.text == "2 满意"  # the button pressed, as if typed
    assert result.message.address == CITIZEN
    assert result.message.native_id == str(data["update_id"])
    assert result.callback_query_id == data["callback_query"]["id"]
    assert result.keyboard_message_id == data["callback_query"]["message"]["message_id"]


def check_photo_caption(data: dict[str, Any], result: object) -> None:
    assert isinstance(result, InboundMessage)
    assert result.text == data["message"]["caption"]
    (attachment,) = result.attachments
    largest = data["message"]["photo"][-1]["file_id"]
    assert attachment.ref == f"telegram:file:{largest}"
    assert attachment.content_type == "image/jpeg"


def check_group_silent(data: dict[str, Any], result: object) -> None:
    ignored(IgnoreReason.GROUP, None, None)(data, result)
    assert "13800138000" not in repr(result)  # nothing said in a group is kept (guangzhou §43)


EXPECTED = {
    "private_text": check_private_text,
    "unknown_fields": check_private_text,
    "command_start": command("start"),
    "command_status": command("status"),
    "command_withdraw": command("withdraw", "20261121-000123"),
    "command_cancel": command("cancel"),
    "edited_message": ignored(IgnoreReason.EDITED, EDITED_NOTE, CITIZEN),
    "callback_query": check_callback,
    "photo_with_caption": check_photo_caption,
    "photo_without_caption": ignored(IgnoreReason.NO_TEXT, TEXT_ONLY_NOTE, CITIZEN),
    "sticker": ignored(IgnoreReason.NO_TEXT, TEXT_ONLY_NOTE, CITIZEN),
    "group_message": check_group_silent,
    "group_command": ignored(IgnoreReason.GROUP, GROUP_NOTE, Address(Channel.TELEGRAM, "-1001234567890")),
    "channel_post": ignored(IgnoreReason.CHANNEL, None, None),
    "my_chat_member_blocked": ignored(IgnoreReason.BLOCKED, None, None),
    "large_text": ignored(IgnoreReason.TOO_LONG, TOO_LONG_NOTE, CITIZEN),
}


def test_every_sample_has_an_expectation() -> None:
    assert {p.stem for p in SAMPLES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_parses_to_expected_kind(name: str) -> None:
    data = sample(name)
    EXPECTED[name](data, parse(data))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_samples_have_telegram_shapes(name: str) -> None:
    """PTB reads every sample, and its own re-serialisation parses to the same result."""
    data = sample(name)
    update = Update.de_json(data, None)
    assert update.update_id == data["update_id"]
    assert parse(update.to_dict()) == parse(data)


def test_one_megabyte_update_is_refused_quickly() -> None:
    data = sample("large_text")
    started = time.perf_counter()
    result = parse(data)
    assert isinstance(result, Ignored)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize("text", ["/start@hotline_test_bot", "/START", "/start  "])
def test_command_forms_for_this_bot(text: str) -> None:
    data = sample("command_start")
    data["message"]["text"] = text
    result = parse(data)
    assert isinstance(result, Command)
    assert (result.name, result.args) == ("start", ())


def test_command_for_another_bot_is_ignored() -> None:
    data = sample("command_start")
    data["message"]["text"] = "/start@some_other_bot"
    assert parse(data) == Ignored(IgnoreReason.OTHER_BOT, update_id=data["update_id"])


def test_text_that_only_looks_like_a_path_is_a_message() -> None:
    data = sample("private_text")
    data["message"]["text"] = "/ 我想问一下"
    assert isinstance(parse(data), InboundMessage)


def test_group_message_mentioning_the_bot_gets_the_private_chat_note() -> None:
    data = sample("group_message")
    data["message"]["text"] = "@hotline_test_bot 我要投诉"
    result = parse(data)
    assert isinstance(result, Ignored)
    assert result.note == GROUP_NOTE


def test_callback_without_its_message_still_maps_a_short_choice() -> None:
    data = sample("callback_query")
    del data["callback_query"]["message"]  # too old: Telegram leaves the message out
    result = parse(data)
    assert isinstance(result, CallbackChoice)
    assert result.message.text == "2 满意"
    assert result.message.address == CITIZEN  # the private chat id is the user's id


def test_callback_with_forged_data_is_stale_and_still_answered() -> None:
    data = sample("callback_query")
    data["callback_query"]["data"] = encode_choice(1, "2 满意").replace("满意", "不满意")
    result = parse(data)
    assert isinstance(result, Ignored)
    assert (result.reason, result.note, result.address) == (
        IgnoreReason.STALE_CHOICE,
        STALE_CHOICE_NOTE,
        CITIZEN,
    )
    assert result.callback_query_id == data["callback_query"]["id"]


def test_long_choices_fit_and_map_back_to_their_own_text() -> None:
    common = "我同意将我的姓名和联系电话提供给承办单位以便联系核实，"
    choices = [common + "但不公开住址", common + "并且可以公开住址"]
    keyboard = {
        "inline_keyboard": [
            [{"text": c, "callback_data": encode_choice(i, c)}] for i, c in enumerate(choices)
        ]
    }
    for i, choice in enumerate(choices):
        data = encode_choice(i, choice)
        assert len(data.encode()) <= CALLBACK_DATA_MAX_BYTES
        assert decode_choice(data, keyboard) == choice
        assert decode_choice(data, None) is None  # a truncated prefix is never taken for the choice


@given(st.text(min_size=1, max_size=80), st.integers(0, 999))
@settings(max_examples=100)
def test_encoded_choice_always_fits(text: str, index: int) -> None:
    assert len(encode_choice(index, text).encode("utf-8", "surrogatepass")) <= CALLBACK_DATA_MAX_BYTES


# ---- secret ------------------------------------------------------------------------------------
SECRET = "s3cret-Token_0123456789"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Telegram-Bot-Api-Secret-Token": ""},
        {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1]},
        {"X-Telegram-Bot-Api-Secret-Token": SECRET + " "},
        {"X-Telegram-Bot-Api-Secret-Token": SECRET.upper()},
        {"X-Telegram-Bot-Api-Secret-Token": "密钥"},
        {"X-Other": SECRET},
    ],
)
def test_forged_or_missing_secret_is_rejected(headers: dict[str, str]) -> None:
    assert verify_secret(headers, SECRET) is False


@pytest.mark.parametrize("name", ["X-Telegram-Bot-Api-Secret-Token", "x-telegram-bot-api-secret-token"])
def test_right_secret_is_accepted(name: str) -> None:
    assert verify_secret({name: SECRET}, SECRET) is True


def test_no_configured_secret_accepts_nothing() -> None:
    assert verify_secret({"X-Telegram-Bot-Api-Secret-Token": ""}, "") is False


# ---- hostile input -----------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
update_keys = st.sampled_from(
    ["update_id", "message", "edited_message", "callback_query", "channel_post", "my_chat_member", "x"]
)


@given(st.dictionaries(update_keys, json_values, max_size=4) | json_values)
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_random_json_never_raises(data: object) -> None:
    result = parse(data)
    assert isinstance(result, InboundMessage | Command | CallbackChoice | Ignored)


def _paths(node: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            found += _paths(v, (*prefix, i))
    return found


@given(st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_samples_never_raise(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(set(EXPECTED) - {"large_text"})))
    update = copy.deepcopy(sample(name))
    path = data.draw(st.sampled_from(_paths(update)))
    parent = update
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(json_values)
    result = parse(update)
    assert isinstance(result, InboundMessage | Command | CallbackChoice | Ignored)
