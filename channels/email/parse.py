"""Inbound mail, parsed: raw RFC 5322 bytes in, a :class:`ParsedMail` out (pure, no I/O).

(Long because hostile MIME is: every decoding the standard library would do unsafely is done here,
bounded; see below. The reply is built in channels/email/reply.py.)

Python's ``email`` package with ``policy.default`` is not safe against hostile mail (RELIABILITY.md §8):
one ``Content-Type: text/plain; name*`` header makes the parse raise ``IndexError``, 1 000 nested
multiparts raise ``RecursionError`` and a 100 KB ``To:`` header costs 46 s of CPU. So the message is
split with ``compat32`` (which never interprets headers while parsing), nesting is capped *before*
the parser sees the bytes, every header is truncated before it is decoded, and all decoding
(RFC 2047 words, RFC 2231 parameters, body charsets) is done here with bounded, linear code.
:func:`parse_mail` never raises: whatever goes wrong in one part becomes a string in ``defects``.

Chinese mail labels GBK text ``gb2312`` all the time (朱镕基 must not become 朱�F基), so every GB label
is decoded as GB18030, and an unknown or wrong label falls back to UTF-8, GB18030, Big5, Latin-1.

Automated mail (auto-replies, bounces, bulk and list mail) is flagged ``is_automated`` so that it
never starts a dialog and never gets an answer: answering it is how mail loops start (RFC 3834).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import email
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass
from email import policy as email_policy
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from html.parser import HTMLParser

import authres

from intake.model import TICKET_NUMBER

log = logging.getLogger(__name__)

__all__ = [
    "MAX_DEPTH",
    "MailAttachment",
    "ParsedMail",
    "decode_bytes",
    "decode_header_text",
    "dialog_text",
    "html_to_text",
    "mail_attachments",
    "parse_mail",
    "relay_verdict",
    "strip_quoted",
    "ticket_tag_of",
]

MAX_DEPTH = 20  # MIME nesting we follow; deeper parts become opaque (1 000 levels raise RecursionError)
MAX_PARTS = 200  # leaf parts we look at
MAX_ATTACHMENTS = 50
MAX_RAW_BYTES = 32 * 1024 * 1024  # the SMTP listener stops at 10 MB; this only bounds direct callers
MAX_HEADER_CHARS = 2_000  # a header is cut here before anything decodes it
MAX_ADDRESS_CHARS = 900  # parseaddr recurses once per "(c):" group: keep far below the recursion limit
MAX_ID_HEADER_CHARS = 8_000  # References of a long thread
MAX_REFERENCES = 50
MAX_BODY_BYTES = 2 * 1024 * 1024  # of one text part, before decoding
MAX_HTML_CHARS = 500_000
MAX_TEXT_CHARS = 20_000  # text handed to the dialog
MAX_FILENAME_CHARS = 180
MAX_AUTH_HEADERS = 20  # Authentication-Results fields looked at (a relay adds one; hops add more)
MAX_AUTH_CHARS = 200  # of the verdict kept

TICKET_TAG_RE = re.compile(rf"\[\s*12345\s*-\s*({TICKET_NUMBER})\s*\]")
# Message-IDs we mint in reply.build_reply carry the ticket: <12345.20261121-000123.9f3a…@domain>
_OUR_MSGID_RE = re.compile(rf"<12345\.({TICKET_NUMBER})\.[0-9a-f]{{8,64}}@[^<>\s]+>")


@dataclass(frozen=True, slots=True)
class MailAttachment:
    """A reference to one attachment; its bytes stay with the raw message (see :func:`mail_attachments`)."""

    filename: str
    content_type: str
    size: int
    sha256: str
    inline: bool = False  # Content-Disposition inline (pasted photos, signature logos)


@dataclass(frozen=True, slots=True)
class ParsedMail:
    """What the email channel needs from one message.

    ``ok`` is False when no usable sender address was found or the MIME structure could not be
    read at all; ``defects`` says what was wrong either way. Message ids keep their angle brackets
    so they can go straight into ``In-Reply-To`` / ``References``.
    """

    from_addr: str
    from_name: str
    to: list[str]
    subject: str
    text: str
    attachments: list[MailAttachment]
    message_id: str | None
    in_reply_to: str | None
    references: list[str]
    ticket_tag: str | None
    is_automated: bool
    automated_reason: str | None
    defects: list[str]
    ok: bool
    reply_to: str | None = None
    html_only: bool = False
    sender_auth: str | None = None  # what our relay found of the sender (see relay_verdict)


# ---------------------------------------------------------------------------------------- charsets

# fmt: off
_GB_LABELS = frozenset({
    "gb2312", "gb_2312", "gb_2312-80", "gb-2312", "csgb2312", "euc-cn", "euccn", "x-euc-cn", "chinese",
    "iso-ir-58", "gbk", "x-gbk", "cp936", "ms936", "windows-936", "936", "gb18030", "gb-18030",
})
# fmt: on
_BIG5_LABELS = frozenset({"big5", "big-5", "x-big5", "cn-big5", "csbig5", "cp950", "ms950"})
_UNSAID_LABELS = frozenset(
    {"", "us-ascii", "ascii", "ansi_x3.4-1968", "unknown-8bit", "x-unknown", "unknown", "default", "8bit"}
)
_SINGLE_BYTE_LATIN = frozenset({"latin-1", "iso8859-1", "cp1252", "iso8859-15"})
_REFUSED_CODECS = frozenset({"unicode_escape", "raw_unicode_escape", "punycode", "idna", "mbcs", "oem"})
_FALLBACK_CHAIN = ("utf-8", "gb18030", "cp950", "big5hkscs")


def _codec_for(label: str | None) -> str | None:
    """Python codec for a MIME charset label; None when the label says nothing usable."""
    if label is None:
        return None
    name = label.strip().strip("\"'").split("*", 1)[0].strip().lower()
    if name in _UNSAID_LABELS or len(name) > 40:
        return None
    if name in _GB_LABELS:
        return "gb18030"  # GB2312 ⊂ GBK ⊂ GB18030: the superset never loses a character
    if name in _BIG5_LABELS:
        return "cp950"
    if name in ("big5hkscs", "big5-hkscs"):
        return "big5hkscs"
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _REFUSED_CODECS:
        return None
    return info.name


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _is_cjk(ch: str) -> bool:
    """Han characters and the punctuation Chinese text uses (、。“”…，：！ and the full-width forms)."""
    return (
        "\u3400" <= ch <= "\u9fff"
        or "\u3000" <= ch <= "\u303f"
        or "\uff00" <= ch <= "\uffef"
        or "\u2010" <= ch <= "\u2027"
        or "\uf900" <= ch <= "\ufaff"
        or "\U00020000" <= ch <= "\U0003134f"
    )


def _mostly_cjk(text: str) -> bool:
    """Whether a decoding looks like Chinese: used to tell which of two valid decodings is right."""
    wide = [c for c in text[:4096] if ord(c) > 0x7F]
    return len(wide) >= 2 and sum(map(_is_cjk, wide)) >= 0.9 * len(wide)


def decode_bytes(data: bytes, label: str | None) -> tuple[str, str | None]:
    """Decode text bytes the way Chinese mail needs; returns (text, defect or None).

    The declared label is trusted when the bytes decode strictly under it, except where mail
    clients are known to lie: a GB/Big5 label on bytes that are valid UTF-8 (web mailers), and a
    Latin label on UTF-8 or GBK bytes (old clients). Otherwise UTF-8, GB18030 and Big5 are tried
    strictly, then the candidate with the fewest U+FFFD wins, and Latin-1 is the last resort.
    """
    if not data:
        return "", None
    codec = _codec_for(label)
    non_ascii = not data.isascii()
    if codec is None and not non_ascii:
        return data.decode("ascii"), None
    defect: str | None = None
    if codec is not None and non_ascii:
        if codec in ("gb18030", "cp950", "big5hkscs"):
            as_utf8 = _strict(data, "utf-8")
            if as_utf8 is not None and _mostly_cjk(as_utf8):
                return as_utf8, f"charset-mislabelled:{label}"
        elif codec in _SINGLE_BYTE_LATIN:
            as_utf8 = _strict(data, "utf-8")
            if as_utf8 is not None:
                return as_utf8, f"charset-mislabelled:{label}"
            as_gb = _strict(data, "gb18030")
            if as_gb is not None and _mostly_cjk(as_gb):
                return as_gb, f"charset-mislabelled:{label}"
    if codec is not None:
        text = _strict(data, codec)
        if text is not None:
            return text, None
        defect = f"charset-undecodable:{label}"
    elif label and label.strip().lower() not in _UNSAID_LABELS:
        defect = f"charset-unknown:{label[:40]}"
    for candidate in _FALLBACK_CHAIN:
        text = _strict(data, candidate)
        if text is not None:
            return text, defect
    best = min(
        (data.decode(c, errors="replace") for c in (codec or "utf-8", "utf-8", "gb18030", "cp950")),
        key=lambda t: t.count("\ufffd"),
    )
    if best.count("\ufffd") <= max(1, len(best) // 20):
        return best, defect or "charset-replaced"
    return data.decode("latin-1"), defect or "charset-latin1-fallback"


# ---------------------------------------------------------------------------------------- headers

_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([bBqQ])\?([^?\s]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]*")
# C0 controls but tab and newline, DEL, zero-width space, LRM/RLM and the bidi overrides and
# isolates (which can disguise "gpj.exe" as "exe.jpg"); ZWJ stays, emoji sequences need it.
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _header_bytes_to_text(value: str) -> str:
    """compat32 keeps undecodable header bytes as surrogates; give raw 8-bit headers a charset."""
    if value.isascii():
        return value
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    raw = value.encode("utf-8", "surrogateescape")
    text, _ = decode_bytes(raw, None)
    return text


def _word_payload(kind: str, payload: str) -> bytes | None:
    try:
        if kind in "bB":
            cleaned = payload.strip()
            cleaned += "=" * (-len(cleaned) % 4)
            try:
                return base64.b64decode(cleaned)
            except (binascii.Error, ValueError):
                return base64.b64decode(cleaned[: len(cleaned) // 4 * 4 - 4] or "")
        return binascii.a2b_qp(payload.encode("ascii", "replace"), header=True)
    except (binascii.Error, ValueError):
        return None


def _decode_encoded_words(value: str) -> str:
    """RFC 2047, linear and forgiving: adjacent words of one charset are joined as bytes first,
    because Outlook and QQ Mail split a multi-byte character across two words."""
    out: list[str] = []
    buf = bytearray()
    buf_charset: str | None = None

    def flush() -> None:
        nonlocal buf_charset
        if buf:
            out.append(decode_bytes(bytes(buf), buf_charset)[0])
            buf.clear()
        buf_charset = None

    last = 0
    prev_word = False
    for m in _ENCODED_WORD.finditer(value):
        gap = value[last : m.start()]
        if not (prev_word and gap.strip() == ""):
            flush()
            out.append(gap)
        charset = m.group(1).split("*", 1)[0]
        data = _word_payload(m.group(2), m.group(3))
        if data is None:
            flush()
            out.append(m.group(0))
            prev_word = False
        else:
            if buf_charset is not None and charset.lower() != buf_charset.lower():
                flush()
            buf_charset = charset
            buf.extend(data)
            prev_word = True
        last = m.end()
    flush()
    out.append(value[last:])
    return "".join(out)


def decode_header_text(value: object, limit: int = MAX_HEADER_CHARS) -> str:
    """A header value as readable text: cut to ``limit`` first, unfolded, RFC 2047 decoded,
    control characters (and bidi overrides, which can disguise a filename) removed."""
    if value is None:
        return ""
    text = str(value)[:limit]
    text = _FOLD.sub(" ", text)
    text = _header_bytes_to_text(text)
    if "=?" in text:
        text = _decode_encoded_words(text)
    return CONTROL_CHARS.sub("", re.sub(r"[\r\n\t]+", " ", text)).strip()


_ADDR_SPEC = re.compile(r"[^\s@<>()\[\],;:\"\\]{1,64}@[^\s@<>()\[\],;:\"\\]{1,253}")
_ANGLE_ADDR = re.compile(r"<\s*([^<>\s]{1,320})\s*>")


def clean_addr(addr: str) -> str | None:
    addr = addr.strip().strip("<>").strip().lower()
    if len(addr) > 320 or not _ADDR_SPEC.fullmatch(addr):
        return None
    if addr.startswith(".") or ".." in addr or addr.endswith("."):
        return None
    return addr


def parse_from(value: object) -> tuple[str, str]:
    """(addr-spec lower-cased, display name) of a From-like header, ("", "") when unusable."""
    if value is None:
        return "", ""
    raw = _header_bytes_to_text(_FOLD.sub(" ", str(value)[:MAX_ADDRESS_CHARS]))
    try:
        name, addr = parseaddr(raw)
    except (RecursionError, IndexError, ValueError):
        name, addr = "", ""
    clean = clean_addr(addr) if addr else None
    if clean is None:  # parseaddr gave up: take the first <addr> or bare addr-spec
        m = _ANGLE_ADDR.search(raw) or _ADDR_SPEC.search(raw)
        if m is not None:
            clean = clean_addr(m.group(1) if m.re is _ANGLE_ADDR else m.group(0))
        name = ""
    return clean or "", decode_header_text(name, 200).strip("\"' ")


def _address_list(value: object) -> list[str]:
    """Every addr-spec in an address-list header, found by pattern: never the recursive parser."""
    if value is None:
        return []
    raw = _header_bytes_to_text(_FOLD.sub(" ", str(value)[:MAX_HEADER_CHARS]))
    found: list[str] = []
    for m in _ADDR_SPEC.finditer(raw):
        addr = clean_addr(m.group(0))
        if addr is not None and addr not in found:
            found.append(addr)
        if len(found) >= MAX_REFERENCES:
            break
    return found


_MSGID = re.compile(r"<[^<>\s]{1,250}>")


def message_ids_of(value: object, limit: int = MAX_ID_HEADER_CHARS) -> list[str]:
    if value is None:
        return []
    ids: list[str] = []
    for m in _MSGID.finditer(str(value)[:limit]):
        token = CONTROL_CHARS.sub("", m.group(0))
        if token not in ids:
            ids.append(token)
        if len(ids) >= MAX_REFERENCES:
            break
    return ids


def ticket_tag_of(subject: str) -> str | None:
    """The ticket number in a subject's ``[12345-20261121-000123]`` tag (CONTRACT.md "Email")."""
    m = TICKET_TAG_RE.search(unicodedata.normalize("NFKC", subject))
    return m.group(1) if m else None


# ---------------------------------------------------------------------------------------- nesting


_MIME_LINE = re.compile(
    rb"^(?:content-type[ \t]*:\s*(multipart|message)/([\x21-\x7e]{0,60})|--([^\r\n]{1,200}))", re.I | re.M
)
_BOUNDARY = re.compile(rb"boundary\s*=\s*(?:\"([^\"\r\n]{1,200})\"|([^\s;\"]{1,200}))", re.I)


def _boundary_near(raw: bytes, start: int) -> bytes | None:
    """The boundary parameter of the header starting at ``start`` (its folded lines included)."""
    chunk = raw[start : start + 600]
    lines = chunk.splitlines()
    header = [lines[0]] if lines else []
    for line in lines[1:]:
        if not line[:1].isspace():
            break
        header.append(line)
    m = _BOUNDARY.search(b" ".join(header))
    if m is None:
        return None
    return (m.group(1) or m.group(2)).strip()


_MAX_STACK = 4 * MAX_DEPTH
_MAX_DELIMITERS = 5 * MAX_PARTS  # part delimiters we let the parser see; the rest is cut off
_MAX_MIME_LINES = 100_000  # Content-Type and "--" lines scanned at all


def _cap_nesting(raw: bytes) -> tuple[bytes, list[str]]:
    """Bound the work ``email`` will do before it sees the bytes; returns (bytes, defects).

    A linear scan keeps a stack of open containers: a multipart/message Content-Type line pushes
    its boundary, a ``--boundary`` line pops everything opened inside that part. Containers deeper
    than MAX_DEPTH are made opaque (``application/…``), because the parser recurses once per level
    and 1 000 levels raise RecursionError. Over-counting (a Content-Type line quoted in a text
    body) only makes a part opaque sooner. A message with more part delimiters than we would
    ever look at is cut after them: the feed parser spends seconds on 100 000 parts.
    """
    stack: list[bytes | None] = []
    open_names: dict[bytes, int] = {}
    edits: list[tuple[int, int]] = []
    defects: list[str] = []
    cut: int | None = None
    delimiters = 0
    for seen, m in enumerate(_MIME_LINE.finditer(raw)):
        if seen >= _MAX_MIME_LINES:
            cut = m.start()
            break
        if m.group(1) is not None:
            kind = m.group(1).lower()
            if kind == b"message" and m.group(2).lower().startswith(b"delivery-status"):
                continue  # parsed as header blocks, not as a nested message
            if len(stack) >= MAX_DEPTH:
                edits.append((m.start(1), m.end(1)))
            if len(stack) < _MAX_STACK:  # past it every further container is made opaque anyway
                boundary = _boundary_near(raw, m.start()) if kind == b"multipart" else None
                stack.append(boundary)
                if boundary is not None:
                    open_names[boundary] = open_names.get(boundary, 0) + 1
        else:
            line = m.group(3).rstrip(b" \t\r")
            closing = line.endswith(b"--")
            name = line[:-2] if closing else line
            if open_names.get(name):
                delimiters += 1
                if delimiters > _MAX_DELIMITERS:
                    cut = m.start()
                    break
                idx = len(stack) - 1 - stack[::-1].index(name)
                keep = idx + (0 if closing else 1)
                for gone in stack[keep:]:
                    if gone is not None:
                        open_names[gone] -= 1
                del stack[keep:]
    if cut is not None:
        raw = raw[:cut]
        defects.append("too-many-parts")
    if not edits:
        return raw, defects
    defects.append("nesting-too-deep")
    out = bytearray()
    last = 0
    for start, end in edits:
        if start >= len(raw):
            break
        out += raw[last:start] + b"application"
        last = end
    out += raw[last:]
    return bytes(out), defects


# ---------------------------------------------------------------------------------------- bodies


class _TextExtractor(HTMLParser):
    """HTML → readable text: scripts/styles/head dropped, blocks become line breaks."""

    _SKIP = frozenset({"script", "style", "head", "title", "noscript", "template", "object", "iframe", "svg"})
    # fmt: off
    _BLOCK = frozenset({
        "p", "div", "br", "li", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "hr",
        "section", "article", "header", "footer", "dt", "dd", "address",
    })
    # fmt: on

    def __init__(self, drop_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.drop_quotes = drop_quotes
        self.skip = 0
        self.quote = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self.skip = 0  # an unclosed <head> or <style> must not swallow the body
        elif tag in self._SKIP:
            self.skip += 1
        elif tag == "blockquote":
            self.quote += 1
            self.chunks.append("\n")
        elif tag in ("td", "th"):
            self.chunks.append(" ")
        elif tag in self._BLOCK:
            self.chunks.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag == "blockquote":
            self.quote = max(0, self.quote - 1)
            self.chunks.append("\n")
        elif tag in self._BLOCK:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self.skip == 0 and not (self.drop_quotes and self.quote):
            self.chunks.append(data)


def _defuse_html(html: str) -> str:
    """Remove what makes Python 3.11's html.parser quadratic (CVE-2025-6069): comments are cut
    out (an unclosed one ends the document), and every ``<`` that is not closed by ``>`` before
    the next ``<`` becomes ``&lt;``. Both passes are linear."""
    out: list[str] = []
    pos = 0
    while True:
        start = html.find("<!--", pos)
        if start < 0:
            out.append(html[pos:])
            break
        out.append(html[pos:start])
        end = html.find("-->", start + 4)
        if end < 0:
            break
        pos = end + 3
    pieces = "".join(out).split("<")
    return pieces[0] + "".join(("<" if ">" in p else "&lt;") + p for p in pieces[1:])


def _run_parser(html: str, drop_quotes: bool) -> str:
    parser = _TextExtractor(drop_quotes)
    try:
        parser.feed(html)
        parser.close()
        text = "".join(parser.chunks)
    except Exception:  # html.parser on hostile markup: fall back to a plain tag strip
        text = re.sub(r"<[^<>]*>", " ", html)
    return text.replace("\xa0", " ")


_BODY_TAG = re.compile(r"<body\b[^<>]*>", re.I)


def html_to_text(html: str, *, drop_quotes: bool = True) -> str:
    """Readable text of an HTML body with the standard ``html.parser``; quoted blocks dropped.

    When that leaves nothing, the quotes are kept, and then an unclosed ``<style>`` or
    ``<script>`` in the head (which makes the parser treat the whole rest as raw data) is
    skipped by starting again at ``<body>``.
    """
    html = _defuse_html(html[:MAX_HTML_CHARS])
    text = _run_parser(html, drop_quotes)
    if not text.strip() and drop_quotes:
        text = _run_parser(html, False)
    if not text.strip():
        body = _BODY_TAG.search(html)
        if body is not None:
            text = _run_parser(html[body.end() :], False)
    return text


_QUOTE_HEAD = re.compile(
    r"^\s*(?:"
    r"-{2,}\s*(?:原始邮件|原始郵件|原邮件|Original Message|Forwarded message|转发邮件|轉寄郵件)\s*-{2,}"
    r"|_{10,}"
    r"|-- ?"
    r")\s*$",
    re.I,
)
_ATTRIBUTION_END = re.compile(r"(?:写道|寫道|wrote)\s*[：:]\s*$", re.I)
_ATTRIBUTION_START = re.compile(r"^\s*(?:在|On|于|於)\s", re.I)
_HEADER_BLOCK = re.compile(r"^\s*\*?(?:发件人|發件人|寄件者|From)\s*\*?\s*[：:]", re.I)
_HEADER_BLOCK_NEXT = re.compile(
    r"^\s*\*?(?:发送时间|發送時間|日期|时间|Sent|Date|收件人|收件者|To|主题|主旨|Subject|抄送|Cc)\s*\*?\s*[：:]",
    re.I,
)
_DEVICE_LINE = re.compile(
    r"^\s*(?:Sent from my .{1,40}|Sent from (?:Mail|Outlook) for .{1,30}|(?:Get|获取) Outlook for .{1,30}"
    r"|发自我的\s?.{1,20}|發自我的\s?.{1,20}|发自\s?(?:网易邮箱|手机QQ邮箱|QQ邮箱|WPS|139邮箱|新浪邮箱).{0,20}"
    r"|来自\s?(?:网易邮箱|QQ邮箱|139邮箱).{0,20})\s*$",
    re.I,
)


def strip_quoted(text: str) -> str:
    """The citizen's own words: quoted history, attribution lines, signatures and "sent from my
    phone" lines removed. Interleaved replies keep their unquoted lines. When nothing would be
    left (a bare forward of an older mail), the text is returned with only ``>`` lines dropped,
    or whole, because the forwarded part is then the matter itself."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _QUOTE_HEAD.match(line):
            break
        if _ATTRIBUTION_END.search(line) and (
            _ATTRIBUTION_START.match(line) or (i > 0 and _ATTRIBUTION_START.match(lines[i - 1]))
        ):
            if not _ATTRIBUTION_START.match(line) and kept:
                kept.pop()  # the attribution was wrapped over two lines
            break
        if _HEADER_BLOCK.match(line) and any(_HEADER_BLOCK_NEXT.match(n) for n in lines[i + 1 : i + 5]):
            break
        if line.lstrip().startswith((">", "＞")) or _DEVICE_LINE.match(line):
            continue
        kept.append(line)
    result = _tidy("\n".join(kept))
    if result:
        return result
    unquoted = _tidy("\n".join(x for x in lines if not x.lstrip().startswith((">", "＞"))))
    return unquoted or _tidy(text)


def _tidy(text: str) -> str:
    text = CONTROL_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " "))
    lines = [line.rstrip() for line in text.split("\n")]
    out = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return out.strip()


# ---------------------------------------------------------------------------------------- parts


class _Walk:
    """State of one walk over the MIME tree: budgets and findings."""

    def __init__(self, keep_payloads: bool) -> None:
        self.keep_payloads = keep_payloads
        self.defects: list[str] = []
        self.attachments: list[MailAttachment] = []
        self.payloads: list[bytes] = []
        self.parts_seen = 0
        self.report = False
        self.text_chars = 0  # decoded so far; past 2 × MAX_TEXT_CHARS further text is not decoded
        self.html_chars = 0  # HTML handed to html.parser so far (it is the slow step)
        self.used_plain = False
        self.used_html = False

    def defect(self, text: str) -> None:
        if len(self.defects) < 100 and text not in self.defects:
            self.defects.append(text)


def _raw(msg: Message, name: str) -> str | None:
    """The first ``name`` header exactly as received. ``msg.get`` would turn raw 8-bit bytes into
    U+FFFD (compat32 wraps them in an unknown-8bit ``Header``); these keep them as surrogates."""
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return value if isinstance(value, str) else str(value)
    return None


def _param(part: Message, name: str, header: str) -> str | None:
    """A MIME parameter, RFC 2231 continuations and charsets included, as text."""
    raw = _raw(part, header)
    if raw is None:
        return None
    if not raw.isascii():  # raw 8-bit parameters (QQ Mail filenames): give them a charset first
        holder = Message()
        holder[header] = _header_bytes_to_text(raw[:MAX_HEADER_CHARS])
        part = holder
    try:
        value = part.get_param(name, header=header)
    except Exception:  # compat32 on a header like "name*" with nothing after it
        return None
    if value is None or value == "":
        return None
    if isinstance(value, tuple):
        charset, _lang, text = value
        try:
            data = str(text).encode("latin-1", "surrogateescape")
        except UnicodeEncodeError:
            data = str(text).encode("utf-8", "surrogateescape")
        return decode_bytes(data, charset or None)[0]
    return str(value)


def _filename(part: Message) -> str | None:
    name = _param(part, "filename", "content-disposition") or _param(part, "name", "content-type")
    if name is None:
        return None
    name = decode_header_text(name, 1000)
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip().strip(".")
    name = unicodedata.normalize("NFC", name)[:MAX_FILENAME_CHARS]
    return name or None


def _content_type(part: Message) -> str:
    try:
        ctype = part.get_content_type()
    except Exception:
        return "application/octet-stream"
    ctype = CONTROL_CHARS.sub("", ctype)[:100]
    return (
        ctype if re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", ctype) else "application/octet-stream"
    )


def _disposition(part: Message) -> str:
    value = _raw(part, "Content-Disposition")
    if value is None:
        return ""
    return str(value)[:200].split(";", 1)[0].strip().lower()


def _payload_bytes(part: Message, walk: _Walk) -> bytes:
    """Decoded payload of a leaf part; bad base64/QP is decoded as far as it goes and noted."""
    try:
        payload = part.get_payload(decode=True)
    except Exception as exc:
        walk.defect(f"payload-undecodable:{type(exc).__name__}")
        return b""
    if payload is None:
        return b""
    if not isinstance(payload, bytes):
        return str(payload).encode("utf-8", "surrogateescape")
    for d in getattr(part, "defects", []):
        walk.defect(f"part:{type(d).__name__}")
    return payload


def _text_of(part: Message, walk: _Walk, ctype: str) -> str:
    """Decoded text of a text leaf, within the walk's budgets."""
    if walk.text_chars >= 2 * MAX_TEXT_CHARS or (ctype == "text/html" and walk.html_chars >= MAX_HTML_CHARS):
        walk.defect("text-budget-spent")
        return ""
    data = _payload_bytes(part, walk)
    charset = _param(part, "charset", "content-type")
    if len(data) > MAX_BODY_BYTES:
        walk.defect("body-truncated")
        data = data[:MAX_BODY_BYTES]
        for _ in range(3):  # a multi-byte character may have been cut in half
            if decode_bytes(data, charset)[1] is None:
                break
            data = data[:-1]
    text, defect = decode_bytes(data, charset)
    if defect:
        walk.defect(defect)
    if ctype == "text/html":
        walk.html_chars += len(text)
        text = html_to_text(text)
        walk.used_html = walk.used_html or bool(text.strip())
    else:
        walk.used_plain = walk.used_plain or bool(text.strip())
    walk.text_chars += len(text)
    return text


def _add_attachment(part: Message, walk: _Walk, inline: bool) -> None:
    if len(walk.attachments) >= MAX_ATTACHMENTS:
        walk.defect("too-many-attachments")
        return
    ctype = _content_type(part)
    if ctype.startswith("message/"):
        try:
            inner = _children(part)
            data = inner[0].as_bytes() if inner else _payload_bytes(part, walk)
        except Exception as exc:
            walk.defect(f"attached-message-unreadable:{type(exc).__name__}")
            data = b""
    else:
        data = _payload_bytes(part, walk)
    name = _filename(part) or f"attachment-{len(walk.attachments) + 1}{_extension(ctype)}"
    walk.attachments.append(
        MailAttachment(
            filename=name,
            content_type=ctype,
            size=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
            inline=inline,
        )
    )
    if walk.keep_payloads:
        walk.payloads.append(data)


def _extension(ctype: str) -> str:
    return {
        "image/jpeg": ".jpg",
        "image/png": ".png",
        "image/gif": ".gif",
        "image/heic": ".heic",
        "application/pdf": ".pdf",
        "message/rfc822": ".eml",
        "text/plain": ".txt",
        "text/html": ".html",
    }.get(ctype, ".bin")


def _is_attachment(part: Message, ctype: str) -> bool:
    disposition = _disposition(part)
    if disposition == "attachment":
        return True
    if not ctype.startswith("text/"):
        return True
    if ctype not in ("text/plain", "text/html"):
        return True  # text/calendar, text/csv …: a file, not the citizen's words
    return _filename(part) is not None and disposition != "inline"


def _children(part: Message) -> list[Message]:
    payload = part.get_payload()
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _body(part: Message, walk: _Walk, depth: int, want_text: bool = True) -> str:
    """Body text of a (sub)tree; attachments found on the way are recorded in ``walk``.

    With ``want_text`` False only attachments are collected (the other branches of a
    multipart/alternative whose text/plain branch was chosen: a pasted photo may live there).
    """
    walk.parts_seen += 1
    if walk.parts_seen > MAX_PARTS:
        walk.defect("too-many-parts")
        return ""
    if depth > MAX_DEPTH:
        walk.defect("nesting-too-deep")
        return ""
    try:
        ctype = _content_type(part)
        if part.is_multipart() and ctype.startswith("multipart/"):
            return _multipart_body(part, ctype, walk, depth, want_text)
        if ctype == "message/delivery-status":
            walk.report = True
            return ""
        if _is_attachment(part, ctype):
            _add_attachment(part, walk, inline=_disposition(part) == "inline")
            return ""
        return _text_of(part, walk, ctype) if want_text else ""
    except RecursionError:
        walk.defect("nesting-too-deep")
        return ""
    except Exception as exc:  # one broken part must not lose the rest of the message
        walk.defect(f"part-error:{type(exc).__name__}")
        return ""


def _alternative_body(children: list[Message], walk: _Walk, depth: int, want_text: bool) -> str:
    """text/plain unless it is empty; otherwise the last (richest) alternative that has text."""
    done: set[int] = set()
    chosen: str | None = None
    if want_text:
        for i, child in enumerate(children):
            if _content_type(child) == "text/plain":
                done.add(i)
                text = _body(child, walk, depth + 1)
                if text.strip():
                    chosen = text
                    break
    if chosen is not None:
        for i, child in enumerate(children):
            if i not in done:
                _body(child, walk, depth + 1, want_text=False)
        return chosen
    best = ""
    for i, child in enumerate(children):
        if i not in done:
            text = _body(child, walk, depth + 1, want_text)
            if text.strip():
                best = text
    return best


def _multipart_body(part: Message, ctype: str, walk: _Walk, depth: int, want_text: bool) -> str:
    children = _children(part)
    if ctype == "multipart/report":
        walk.report = True
    if ctype == "multipart/alternative":
        return _alternative_body(children, walk, depth, want_text)
    bodies: list[str] = []
    for i, child in enumerate(children):
        # related: the first part is the document, the rest are its images;
        # report: the first part is the human-readable notice
        only_first = ctype in ("multipart/related", "multipart/report") and i > 0
        bodies.append(_body(child, walk, depth + 1, want_text and not only_first))
    return "\n".join(b for b in bodies if b.strip())


# ---------------------------------------------------------------------------------------- automated

# Subject prefixes of auto-replies and bounces. The Chinese ones must be followed by a colon or
# end the subject: "退信用卡年费" is a citizen's matter, "系统退信" is a bounce.
_AUTO_SUBJECT = re.compile(
    r"^\s*(?:"
    r"(?:自动回复|自動回覆|自动答复|自動答覆|系统退信|退信|邮件投递失败|休假自动回复)\s*(?:[:：]|$)"
    r"|Auto(?:matic)?[ -]?(?:Reply|Response)\b|Autoreply\b|Out of (?:the )?Office\b"
    r"|Undeliverable\b|Undelivered Mail\b|Delivery Status Notification\b"
    r"|Mail Delivery (?:Failed|Failure|System)\b|Returned mail\b|Failure Notice\b)",
    re.I,
)
_DAEMON_LOCALPARTS = frozenset({"mailer-daemon", "postmaster", "mail-daemon", "mailerdaemon"})
_NOREPLY = re.compile(r"^(?:no-?reply|do-?not-?reply|donotreply|noreply-.*|bounces?(?:[+-].*)?)$")


def _automated_reason(
    heads: dict[str, str], from_addr: str, subject: str, envelope_from: str | None
) -> str | None:
    """Why this mail must not be answered (RFC 3834 §2, RFC 2369/2919, RFC 3464), or None."""

    def header(name: str) -> str:
        return heads.get(name.lower(), "")[:200].strip().lower()

    auto = header("Auto-Submitted")
    if auto and auto.split(";", 1)[0].strip() != "no":
        return f"auto-submitted:{auto.split(';', 1)[0].strip()[:30]}"
    precedence = header("Precedence")
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence:{precedence}"
    for name in ("List-Id", "List-Unsubscribe", "List-Post"):
        if name.lower() in heads:
            return f"list:{name.lower()}"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoreply-From", "X-Mail-Autoreply", "X-Autogenerated"):
        if name.lower() in heads:
            return f"header:{name.lower()}"
    if "autoresponder" in header("X-POST-MessageClass"):
        return "header:x-post-messageclass"
    if header("X-Auto-Response-Suppress") in ("all", "oof") and _AUTO_SUBJECT.match(subject):
        return "header:x-auto-response-suppress"
    return_path = header("Return-Path")
    if return_path.replace(" ", "") in ("<>", "<<>>"):
        return "return-path:null"
    if envelope_from is not None and envelope_from.strip() in ("", "<>"):
        return "envelope:null-sender"
    for addr in (from_addr, (envelope_from or "").strip("<> ").lower()):
        local = addr.split("@", 1)[0]
        if local in _DAEMON_LOCALPARTS:
            return f"sender:{local}"
        if local and _NOREPLY.match(local):
            return "sender:noreply"
    ctype = header("Content-Type")
    if "multipart/report" in ctype or "message/delivery-status" in ctype:
        return "delivery-report"
    if _AUTO_SUBJECT.match(subject):
        return "subject:automatic"
    return None


# ---------------------------------------------------------------------------------------- entry


def relay_verdict(values: list[str], relays: frozenset[str] | tuple[str, ...]) -> str | None:
    """What the relays we trust found of the sender, from the mail's Authentication-Results
    fields (RFC 8601): ``"dkim=pass spf=pass dmarc=fail"``, each method once, in the order the
    relay wrote them. Only a field whose authserv-id is one of ``relays`` counts: anyone can
    write the others, so they are ignored (§5). None when no trusted relay said anything."""
    if not relays:
        return None
    results: dict[str, str] = {}
    said = False
    for value in values[:MAX_AUTH_HEADERS]:
        text = _header_bytes_to_text(value)[:MAX_HEADER_CHARS]
        try:
            header = authres.AuthenticationResultsHeader.parse_value(text)
        except Exception:  # authres.SyntaxError, or a RecursionError on nested comments
            log.info("an Authentication-Results field could not be read; ignored")
            continue
        if str(header.authserv_id).lower() not in relays:
            continue
        said = True
        for result in header.results:
            method, verdict = str(result.method).lower(), str(result.result).lower()
            if re.fullmatch(r"[a-z0-9_.-]{1,30}", method) and re.fullmatch(r"[a-z]{1,20}", verdict):
                results.setdefault(method, verdict)
    if not said:
        return None
    return (" ".join(f"{m}={v}" for m, v in results.items()) or "none")[:MAX_AUTH_CHARS]


def _parse(
    raw: bytes, envelope_from: str | None, keep_payloads: bool, relays: frozenset[str] | tuple[str, ...] = ()
) -> tuple[ParsedMail, list[bytes]]:
    walk = _Walk(keep_payloads)
    fatal = False
    if not isinstance(raw, bytes | bytearray | memoryview):
        raw = str(raw).encode("utf-8", "surrogateescape")
    raw = bytes(raw)
    if len(raw) > MAX_RAW_BYTES:
        walk.defect("message-truncated")
        raw = raw[:MAX_RAW_BYTES]
    raw, capped = _cap_nesting(raw)
    for note in capped:
        walk.defect(note)
    msg: Message
    try:
        msg = email.message_from_bytes(raw, policy=email_policy.compat32)
    except Exception as exc:  # RecursionError and whatever else: keep the headers at least
        walk.defect(f"mime-unparseable:{type(exc).__name__}")
        fatal = True
        try:
            msg = BytesHeaderParser(policy=email_policy.compat32).parsebytes(raw)
        except Exception:
            msg = Message()
    heads: dict[str, str] = {}
    auth_fields: list[str] = []
    for key, value in msg.raw_items():
        name, text = str(key).lower(), value if isinstance(value, str) else str(value)
        heads.setdefault(name, text)
        if name == "authentication-results":
            auth_fields.append(text)
    for d in msg.defects[:20]:
        walk.defect(f"message:{type(d).__name__}")

    subject = decode_header_text(heads.get("subject"))
    from_addr, from_name = parse_from(heads.get("from"))
    if not from_addr:
        from_addr, from_name = parse_from(heads.get("sender"))
        if from_addr:
            walk.defect("from-missing-used-sender")
    if not from_addr and envelope_from:
        from_addr = clean_addr(envelope_from) or ""
        if from_addr:
            walk.defect("from-missing-used-envelope")
    if not from_addr:
        walk.defect("no-sender-address")
    reply_to, _ = parse_from(heads.get("reply-to"))
    to = _address_list(heads.get("to"))
    to += [a for a in _address_list(heads.get("cc")) if a not in to]

    text = ""
    if not fatal:
        try:
            text = _body(msg, walk, 0)
        except Exception as exc:
            walk.defect(f"body-error:{type(exc).__name__}")
    text = strip_quoted(text)
    if len(text) > MAX_TEXT_CHARS:
        walk.defect("text-truncated")
        text = text[:MAX_TEXT_CHARS]

    message_ids = message_ids_of(heads.get("message-id"), 1000)
    in_reply_to = message_ids_of(heads.get("in-reply-to"), 1000)
    references = message_ids_of(heads.get("references"))
    ticket = ticket_tag_of(subject)
    if ticket is None:
        for ref in in_reply_to + references[::-1]:
            m = _OUR_MSGID_RE.fullmatch(ref)
            if m:
                ticket = m.group(1)
                break

    reason = _automated_reason(heads, from_addr, subject, envelope_from)
    if reason is None and walk.report:
        reason = "delivery-report"
    parsed = ParsedMail(
        from_addr=from_addr,
        from_name=from_name,
        to=to,
        subject=subject,
        text=text,
        attachments=walk.attachments,
        message_id=message_ids[0] if message_ids else None,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=references,
        ticket_tag=ticket,
        is_automated=reason is not None,
        automated_reason=reason,
        defects=walk.defects,
        ok=bool(from_addr) and not fatal,
        reply_to=reply_to or None,
        html_only=walk.used_html and not walk.used_plain,
        sender_auth=relay_verdict(auth_fields, relays),
    )
    return parsed, walk.payloads


def _failed(exc: BaseException) -> ParsedMail:
    return ParsedMail(
        from_addr="",
        from_name="",
        to=[],
        subject="",
        text="",
        attachments=[],
        message_id=None,
        in_reply_to=None,
        references=[],
        ticket_tag=None,
        is_automated=True,  # unknown mail is never answered
        automated_reason="unparseable",
        defects=[f"parse-failed:{type(exc).__name__}"],
        ok=False,
    )


def parse_mail(
    raw: bytes, *, envelope_from: str | None = None, relays: frozenset[str] | tuple[str, ...] = ()
) -> ParsedMail:
    """Parse one raw message. Never raises; bounded time on any input (RELIABILITY.md M6).

    Args:
        raw: the message exactly as received (``envelope.original_content``).
        envelope_from: the SMTP ``MAIL FROM``, when known; an empty one (``<>``) marks a bounce.
        relays: authserv-ids of the relays we trust (settings.mail_relays): see relay_verdict.
    """
    try:
        return _parse(raw, envelope_from, keep_payloads=False, relays=relays)[0]
    except Exception as exc:
        return _failed(exc)


def mail_attachments(raw: bytes) -> list[tuple[MailAttachment, bytes]]:
    """The attachments of a message with their decoded bytes, for the code that stores them.

    The same walk as :func:`parse_mail`, so references and bytes always agree. Never raises.
    """
    try:
        parsed, payloads = _parse(raw, None, keep_payloads=True)
    except Exception:
        return []
    return list(zip(parsed.attachments, payloads, strict=False))


_SUBJECT_PREFIX = re.compile(
    r"^\s*(?:(?:re|fw|fwd|aw|sv|答复|回复|回覆|转发|轉寄)\s*(?:\[\d+\])?\s*[:：]\s*)+", re.I
)


def base_subject(subject: str) -> str:
    return _SUBJECT_PREFIX.sub("", subject).strip()


def dialog_text(parsed: ParsedMail) -> str:
    """The text the dialog should read: the body, with the subject in front for a new matter.

    A first mail often says what it is about only in the subject ("路灯不亮"); in a reply the
    subject is just our own tag, so it is left out.
    """
    subject = TICKET_TAG_RE.sub("", base_subject(parsed.subject)).strip()
    is_reply = parsed.ticket_tag is not None or parsed.in_reply_to is not None or subject != parsed.subject
    if is_reply or not subject or subject in parsed.text:
        return parsed.text or subject
    return f"{subject}\n{parsed.text}".strip()
