"""Inbound mail parsing against real and hostile messages (RELIABILITY.md M6), and our replies."""

from __future__ import annotations

import hashlib
import importlib.util
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.parse import (
    MAX_DEPTH,
    MAX_TEXT_CHARS,
    decode_bytes,
    decode_header_text,
    dialog_text,
    html_to_text,
    mail_attachments,
    parse_mail,
    relay_verdict,
    strip_quoted,
)
from channels.email.reply import build_reply
from intake.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "samples" / "mail"
MANIFEST: list[dict[str, Any]] = tomllib.loads((CORPUS / "manifest.toml").read_text("utf-8"))["mail"]
TIME_LIMIT = 2.0  # seconds of CPU per message (RELIABILITY.md M6)


def _timed_parse(raw: bytes, **kwargs: Any) -> Any:
    start = time.process_time()
    parsed = parse_mail(raw, **kwargs)
    assert time.process_time() - start < TIME_LIMIT
    return parsed


# ------------------------------------------------------------------------------------ the corpus


def test_corpus_is_large_enough_and_fully_listed() -> None:
    files = sorted(p.name for p in CORPUS.glob("*.eml"))
    listed = sorted(entry["file"] for entry in MANIFEST)
    assert files == listed
    assert len(files) >= 30
    assert {entry["made"] for entry in MANIFEST} == {"script", "hand"}


@pytest.mark.parametrize("entry", MANIFEST, ids=[e["file"] for e in MANIFEST])
def test_corpus_message(entry: dict[str, Any]) -> None:
    parsed = _timed_parse((CORPUS / entry["file"]).read_bytes())
    assert parsed.from_addr == entry["from"]
    assert parsed.ok is entry.get("ok", True)
    if "from_name" in entry:
        assert parsed.from_name == entry["from_name"]
    assert parsed.subject == entry["subject"]
    if entry["text"]:
        assert entry["text"] in parsed.text
    else:
        assert parsed.text == ""
    for absent in entry.get("absent", []):
        assert absent not in parsed.text
    assert [a.filename for a in parsed.attachments] == entry["attachments"]
    assert parsed.is_automated is entry["is_automated"]
    assert parsed.ticket_tag == entry.get("ticket_tag")
    if "defect" in entry:
        assert entry["defect"] in parsed.defects
    shown = [parsed.text, parsed.subject, parsed.from_name, *(a.filename for a in parsed.attachments)]
    assert not any("\ufffd" in s for s in shown)


def test_generated_corpus_matches_the_script() -> None:
    """The committed g*/x* files are exactly what scripts/make_mail_corpus.py writes."""
    spec = importlib.util.spec_from_file_location(
        "make_mail_corpus", ROOT / "scripts" / "make_mail_corpus.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = {**module.generated(), **module.hostile()}
    scripted = {e["file"] for e in MANIFEST if e["made"] == "script"}
    assert set(made) == scripted
    for name, data in made.items():
        assert (CORPUS / name).read_bytes() == data, name


def test_attachment_bytes_match_their_references() -> None:
    raw = (CORPUS / "h08_encoded_word_split_rfc2231.eml").read_bytes()
    pairs = mail_attachments(raw)
    assert [a.filename for a, _ in pairs] == ["投诉材料.txt", "现场照片.jpg"]
    for ref, data in pairs:
        assert ref.size == len(data)
        assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert pairs[0][1].decode("utf-8") == "附件内容"
    assert pairs[1][1].startswith(b"\xff\xd8")


# ------------------------------------------------------------------------------------ hostile input


def _nested(depth: int, leaf: bytes = b"bottom") -> bytes:
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth)
    )
    tail = b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    return b"From: deep@example.com\r\n" + head + b"Content-Type: text/plain\r\n\r\n" + leaf + b"\r\n" + tail


FROM = b"From: a@example.com\r\n"
HOSTILE = {
    "name-star": b"From: a@example.com\r\nContent-Type: text/plain; name*\r\n\r\nhello\r\n",
    "filename-star-only": FROM + b"Content-Type: image/png\r\nContent-Disposition: attachment; "
    b"filename*=\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!!\r\n",
    "nested-1000": _nested(1000),
    "nested-5000": _nested(5000),
    "message-rfc822-nested": b"From: a@example.com\r\n"
    + b"Content-Type: message/rfc822\r\n\r\n" * 3000
    + b"x",
    "to-100k": b"From: a@example.com\r\nTo: " + b"(c):" * 25_000 + b"\r\n\r\nbody\r\n",
    "from-100k": b"From: " + b"(c):" * 25_000 + b"\r\n\r\nbody\r\n",
    "subject-1m": b"From: a@example.com\r\nSubject: " + b"=?utf-8?B?5Lit?= " * 60_000 + b"\r\n\r\nbody",
    "references-1m": b"From: a@example.com\r\nReferences: " + b"<a@b> " * 150_000 + b"\r\n\r\nx",
    "many-headers": b"From: a@example.com\r\n" + b"X-A: b\r\n" * 200_000 + b"\r\nbody",
    "many-parts": b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n"
    + b"--z\r\nContent-Type: image/png\r\n\r\nx\r\n" * 20_000
    + b"--z--\r\n",
    "html-comments": b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n" + b"<!--" * 250_000,
    "html-endtags": b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n"
    + b"</" * 250_000
    + b"<?" * 250_000,
    "html-unclosed-attr": b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n<a " + b'x="' * 200_000,
    "bad-base64": b"From: a@example.com\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b"=!*" * 100_000,
    "bad-uuencode": b"From: a@example.com\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 f\r\n"
    + b"M" * 100_000,
    "one-long-line": b"From: a@example.com\r\n\r\n" + b"x" * 5_000_000,
    "nul-bytes": b"\x00" * 100_000,
    "only-headers": b"From: a@example.com",
    "charset-codec-abuse": FROM + b"Content-Type: text/plain; charset=zlib_codec\r\n\r\nx\xff",
    "charset-unicode-escape": FROM + b"Content-Type: text/plain; charset=unicode_escape\r\n\r\n\\N{x",
    "encoded-word-bomb": b"From: a@example.com\r\nSubject: " + b"=?utf-8?Q?" + b"=" * 100_000 + b"?=\r\n\r\n",
    "rfc2231-many-continuations": b"From: a@example.com\r\nContent-Type: application/pdf\r\n"
    b"Content-Disposition: attachment; "
    + b"; ".join(b"filename*%d*=%%E4%%B8%%AD" % i for i in range(3000))
    + b"\r\n\r\nx",
}


@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_input_is_parsed_quickly_without_raising(raw: bytes) -> None:
    parsed = _timed_parse(raw)
    assert isinstance(parsed.defects, list)
    assert len(parsed.text) <= 20_000


def test_deep_nesting_is_capped_and_reported() -> None:
    parsed = parse_mail(_nested(1000))
    assert "nesting-too-deep" in parsed.defects
    assert parsed.from_addr == "deep@example.com"


def test_legitimate_nesting_is_followed_to_the_bottom() -> None:
    parsed = parse_mail(_nested(MAX_DEPTH - 2, leaf="最里面的正文".encode()))
    assert parsed.text == "最里面的正文"
    assert "nesting-too-deep" not in parsed.defects


def test_name_star_header_keeps_the_text() -> None:
    assert parse_mail(HOSTILE["name-star"]).text == "hello"


def test_huge_to_header_does_not_lose_the_message() -> None:
    parsed = parse_mail(HOSTILE["to-100k"])
    assert parsed.ok
    assert parsed.text == "body"


# ------------------------------------------------------------------------------------ charsets

# Real text: GB2312 level-1 characters, a GBK-only one (镕), GB18030 four-byte ones, emoji.
CHINESE = "朱镕基路灯不亮请尽快处理谢谢您好小区噪音投诉下水道堵塞生僻字𠮷䶮，。！？：（）《》“”😀 abc123"


@settings(max_examples=150, deadline=None)
@given(
    st.text(alphabet=CHINESE, min_size=1, max_size=80), st.sampled_from(["gb2312", "GBK", "x-gbk", "gb18030"])
)
def test_valid_gb18030_text_decodes_exactly(text: str, label: str) -> None:
    decoded, _ = decode_bytes(text.encode("gb18030"), label)
    assert decoded == text
    assert "\ufffd" not in decoded


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=CHINESE, min_size=1, max_size=80))
def test_unlabelled_text_falls_back_to_the_right_charset(text: str) -> None:
    assert decode_bytes(text.encode("utf-8"), None)[0] == text
    assert decode_bytes(text.encode("utf-8"), "x-unknown")[0] == text


def test_mislabelled_gb2312_is_read_as_gbk() -> None:
    text, defect = decode_bytes("朱镕基".encode("gbk"), "gb2312")
    assert text == "朱镕基"
    assert defect is None


def test_gbk_text_that_happens_to_be_valid_utf8_stays_gbk() -> None:
    assert "隆隆隆".encode("gbk").decode("utf-8") == "¡¡¡"  # the trap
    assert decode_bytes("隆隆隆".encode("gbk"), "gb2312")[0] == "隆隆隆"


def test_big5_label() -> None:
    assert decode_bytes("路燈不亮，請儘快處理".encode("big5"), "big5")[0] == "路燈不亮，請儘快處理"


def test_gbk_labelled_utf8_is_read_as_utf8() -> None:
    text, defect = decode_bytes("路灯不亮".encode(), "gb2312")
    assert text == "路灯不亮"
    assert defect is not None


def test_undecodable_bytes_fall_back_to_latin1() -> None:
    data = b"caf\xe9 \xff\x80" * 50  # no multi-byte charset makes sense of this
    text, defect = decode_bytes(data, "utf-8")
    assert text == data.decode("latin-1")
    assert defect is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=?gb2312?B?1uzpRrv5?=", "朱镕基"),
        ("=?UTF-8?B?6Lev?= =?UTF-8?B?54Gv?=", "路灯"),  # whitespace between words is dropped
        ("=?UTF-8?B?6Lc=?= =?UTF-8?B?r+eBrw==?=", "路灯"),  # a character split across two words
        ("=?utf-8?q?=E8=B7=AF_=E7=81=AF?=", "路 灯"),
        ("=?utf-8*zh?B?6Lev54Gv?=", "路灯"),  # RFC 2231 language in an encoded word
        ("Re: =?utf-8?B?6Lev54Gv?= [12345-20261121-000123]", "Re: 路灯 [12345-20261121-000123]"),
        ("=?utf-8?B?6Lev54Gv", "=?utf-8?B?6Lev54Gv"),  # unterminated: left as it is
        ("=?bogus-charset?B?6Lev54Gv?=", "路灯"),
        ("a\r\n\tb", "a b"),
        ("x\u202egnp.exe", "xgnp.exe"),  # a bidi override cannot disguise a name
    ],
)
def test_decode_header_text(raw: str, expected: str) -> None:
    assert decode_header_text(raw) == expected


# ------------------------------------------------------------------------------------ bodies


def test_html_to_text_drops_scripts_and_styles() -> None:
    text = html_to_text("<style>.a{}</style><script>alert(1)</script><p>路灯</p><p>不亮&amp;危险</p>")
    assert "alert" not in text and ".a{}" not in text
    assert text.split() == ["路灯", "不亮&危险"]


def test_html_unclosed_head_does_not_swallow_the_body() -> None:
    assert "正文" in html_to_text("<html><head><style>x{}<body><p>正文</p></body>")


@pytest.mark.parametrize(
    ("text", "kept", "dropped"),
    [
        ("新问题\n\n在 2026年11月21日 10:00，12345热线 写道：\n> 旧问题", "新问题", "旧问题"),
        ("new\nOn Sat, Nov 21, 2026 at 10:00 AM X <\nx@example.com> wrote:\n> old", "new", "old"),
        ("新问题\n-----原始邮件-----\n发件人: a\n旧问题", "新问题", "旧问题"),
        ("新问题\n发件人: 12345热线\n发送时间: 2026-11-21\n主题: 旧\n旧问题", "新问题", "旧问题"),
        ("新问题\n发自我的iPhone", "新问题", "iPhone"),
        ("新问题\nSent from my iPhone", "新问题", "iPhone"),
        ("新问题\n-- \n张三 13800138000", "新问题", "13800138000"),
        ("> 引用\n我的回答\n> 引用二", "我的回答", "引用"),
    ],
)
def test_strip_quoted(text: str, kept: str, dropped: str) -> None:
    out = strip_quoted(text)
    assert kept in out
    assert dropped not in out


def test_strip_quoted_keeps_a_bare_forward() -> None:
    text = "-----原始邮件-----\n发件人: 物业\n发送时间: 今天\n物业费上涨50%"
    assert "物业费上涨50%" in strip_quoted(text)


def test_dialog_text_uses_the_subject_of_a_new_matter() -> None:
    parsed = parse_mail((CORPUS / "h19_subject_only.eml").read_bytes())
    assert dialog_text(parsed) == "公园厕所没水了"
    reply = parse_mail((CORPUS / "g09_reply_to_ticket_quoted.eml").read_bytes())
    assert dialog_text(reply) == reply.text


# ------------------------------------------------------------------------------------ automated


def _headers(extra: str, frm: str = "citizen@example.com", subject: str = "路灯") -> bytes:
    return f"From: {frm}\r\nSubject: {subject}\r\n{extra}\r\n\r\nbody\r\n".encode()


@pytest.mark.parametrize(
    ("raw", "automated"),
    [
        (_headers("Auto-Submitted: auto-replied"), True),
        (_headers("Auto-Submitted: auto-generated"), True),
        (_headers("Auto-Submitted: no"), False),
        (_headers("Precedence: bulk"), True),
        (_headers("Precedence: junk"), True),
        (_headers("Precedence: list"), True),
        (_headers("List-Id: <x.example.com>"), True),
        (_headers("List-Unsubscribe: <mailto:u@example.com>"), True),
        (_headers("Return-Path: <>"), True),
        (_headers("X-Autoreply: yes"), True),
        (_headers("X-Mailer: Foxmail"), False),
        (_headers("X-Mailer: x", frm="MAILER-DAEMON@mx.example.com"), True),
        (_headers("X-Mailer: x", frm="postmaster@example.com"), True),
        (_headers("X-Mailer: x", frm="no-reply@example.com"), True),
        (_headers("X-Mailer: x", subject="自动回复：休假中"), True),
        (_headers("X-Mailer: x", subject="Out of Office: back Monday"), True),
        (_headers("X-Mailer: x", subject="系统退信"), True),
        (_headers("X-Mailer: x", subject="退信用卡年费的问题"), False),  # a citizen's matter
        (_headers("X-Mailer: x", subject="休假期间楼上装修噪音"), False),
        (_headers("Content-Type: multipart/report; report-type=delivery-status; boundary=x"), True),
    ],
)
def test_automated_mail_is_flagged(raw: bytes, automated: bool) -> None:
    assert parse_mail(raw).is_automated is automated


def test_null_envelope_sender_is_a_bounce() -> None:
    raw = _headers("X-Mailer: x")
    assert parse_mail(raw, envelope_from="").is_automated
    assert parse_mail(raw, envelope_from="<>").is_automated
    assert not parse_mail(raw, envelope_from="citizen@example.com").is_automated


# ------------------------------------------------------------------------------------ replies

NUMBER = "20261121-000123"
HOTLINE = "12345热线 <12345@hotline.example.gov.cn>"


def _reply(subject: str, **kwargs: Any) -> Any:
    args: dict[str, Any] = {
        "to_addr": "Citizen@Example.com",
        "subject": subject,
        "text": "您好，您的诉求已受理。",
        "ticket_number": NUMBER,
        "in_reply_to": "<abc@example.com>",
        "references": ["<root@example.com>"],
        "from_addr": HOTLINE,
        "message_id_domain": "hotline.example.gov.cn",
    }
    args.update(kwargs)
    return build_reply(**args)


@pytest.mark.parametrize(
    "subject",
    [
        "路灯不亮",
        "Re: 路灯不亮",
        "RE: Re: 回复：路灯不亮",
        f"Re: 路灯不亮 [12345-{NUMBER}]",
        f"[12345-{NUMBER}] 路灯不亮",
    ],
)
def test_reply_subject_carries_the_tag_once(subject: str) -> None:
    msg = _reply(subject)
    assert msg["Subject"] == f"Re: 路灯不亮 [12345-{NUMBER}]"


def test_reply_threads_and_marks_itself_automatic() -> None:
    msg = _reply("路灯不亮", references=["<root@example.com>", "<abc@example.com>"])
    assert msg["In-Reply-To"] == "<abc@example.com>"
    assert msg["References"] == "<root@example.com> <abc@example.com>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Message-ID"].startswith(f"<12345.{NUMBER}.")
    assert msg["Message-ID"].endswith("@hotline.example.gov.cn>")
    assert msg["To"] == "citizen@example.com"
    assert msg.get_content_charset() == "utf-8"
    assert msg.get_content().strip() == "您好，您的诉求已受理。"


def test_our_reply_parses_back_to_the_ticket_and_is_never_answered() -> None:
    parsed = parse_mail(_reply("路灯不亮").as_bytes())
    assert parsed.ticket_tag == NUMBER
    assert parsed.is_automated
    assert parsed.text == "您好，您的诉求已受理。"
    assert parsed.from_name == "12345热线"


def test_citizen_reply_without_tag_finds_the_ticket_through_references() -> None:
    ours = _reply("路灯不亮")
    raw = (
        "From: citizen@example.com\r\nSubject: Re: 路灯\r\n"
        f"In-Reply-To: {ours['Message-ID']}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n修好了"
    ).encode()
    assert parse_mail(raw).ticket_tag == NUMBER


def test_same_idempotency_key_same_message_id() -> None:
    a = _reply("x", idempotency_key="outbox-42")
    b = _reply("x", idempotency_key="outbox-42")
    c = _reply("x", idempotency_key="outbox-43")
    assert a["Message-ID"] == b["Message-ID"] != c["Message-ID"]


def test_header_injection_in_subject_is_neutralized() -> None:
    msg = _reply("路灯\r\nBcc: victim@example.com")
    assert "Bcc" not in msg
    assert "\n" not in msg["Subject"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"to_addr": "not an address"},
        {"to_addr": "a@b.c\r\nBcc: x@y.z"},
        {"ticket_number": "123"},
        {"from_addr": "nobody"},
    ],
)
def test_reply_rejects_bad_input(kwargs: dict[str, str]) -> None:
    with pytest.raises(InvalidInput):
        _reply("x", **kwargs)


# ------------------------------------------------------------------------------------ fuzzing


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4000))
def test_never_raises_on_random_bytes(raw: bytes) -> None:
    parsed = parse_mail(raw)
    assert isinstance(parsed.ok, bool)


_CORPUS_BYTES = [
    (CORPUS / e["file"]).read_bytes() for e in MANIFEST if (CORPUS / e["file"]).stat().st_size < 10_000
]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_CORPUS_BYTES)))
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate", "duplicate"]))
        pos = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == "insert":
            data[pos:pos] = draw(
                st.sampled_from(
                    [b"\r\n", b"--", b"=?", b"?=", b";", b"*", b'"', b"\x00", b"\xff", b"<!--", b"\r\n\r\n"]
                )
            )
        elif op == "delete":
            del data[pos : pos + draw(st.integers(1, 50))]
        elif op == "truncate":
            del data[pos:]
        elif op == "duplicate":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 200))]
    return bytes(data)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_never_raises_on_mutated_corpus_messages(raw: bytes) -> None:
    """Whatever the damage: no exception, a text the dialog can store (UTF-8, within its limit),
    and the attachments the store keeps agree with what the parse reported, byte for byte."""
    parsed = parse_mail(raw)
    parsed.text.encode("utf-8")  # no lone surrogate survives
    assert len(parsed.text) <= MAX_TEXT_CHARS
    kept = mail_attachments(raw)
    assert [a for a, _ in kept] == list(parsed.attachments)
    assert all(a.size == len(data) and a.sha256 == hashlib.sha256(data).hexdigest() for a, data in kept)


# ---- Authentication-Results of the relay (issue 18) ------------------------------------------


def test_only_the_trusted_relays_authentication_results_count() -> None:
    relays = ("mx.gz12345.gov.cn",)
    ours = "MX.GZ12345.gov.cn (postfix); dkim=pass (good) header.d=qq.com; spf=softfail smtp.mailfrom=a@x"
    theirs = "mx.gz12345.gov.cn.evil.example; dmarc=pass"
    assert relay_verdict([theirs, ours], relays) == "dkim=pass spf=softfail"
    assert relay_verdict([theirs], relays) is None
    assert relay_verdict([ours], ()) is None  # no relay configured: nobody is believed
    assert relay_verdict(["mx.gz12345.gov.cn; none"], relays) == "none"


def test_a_hostile_authentication_results_field_is_ignored() -> None:
    relays = ("mx.gz12345.gov.cn",)
    hostile = [
        "mx.gz12345.gov.cn; dkim=" + "(" * 5000,
        ";;; <script>alert(1)</script>",
        "mx.gz12345.gov.cn; <img=x>; spf=pass",
        "mx.gz12345.gov.cn; dkim=pass" + " header.d=x" * 2000,
    ]
    for value in hostile:
        verdict = relay_verdict([value], relays)
        assert verdict is None or (len(verdict) <= 200 and "<" not in verdict), verdict


def test_parse_mail_reads_the_relays_verdict() -> None:
    raw = (
        b"Authentication-Results: mx.gz12345.gov.cn; dmarc=fail header.from=qq.com\r\n"
        b"Authentication-Results: mx.gz12345.gov.cn; spf=pass\r\n"
        b"From: a@qq.com\r\nTo: 12345@hotline.local\r\nSubject: x\r\n\r\nbody\r\n"
    )
    assert parse_mail(raw, relays=("mx.gz12345.gov.cn",)).sender_auth == "dmarc=fail spf=pass"
    assert parse_mail(raw).sender_auth is None
