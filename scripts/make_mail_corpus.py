"""Write the generated part of the mail corpus in tests/samples/mail/ (RELIABILITY.md M6).

The ``g*.eml`` files are built with the standard ``email`` package the way real clients build
them (Outlook, Foxmail, QQ Mail, Gmail, iPhone Mail, a mailing list). The ``x*.eml``
files are hostile raw bytes that are easier to produce than to type (1 000-deep nesting, a
100 KB ``To:``). The ``h*.eml`` files were written by hand and are not touched by this script.
Expected results of every file are in ``manifest.toml``, written by hand.

Run: ``.venv/bin/python scripts/make_mail_corpus.py`` (output is deterministic).
"""

from __future__ import annotations

import base64
from email import policy
from email.message import EmailMessage
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests" / "samples" / "mail"
DATE = "Sat, 21 Nov 2026 10:00:00 +0800"
MAILBOX = "12345@hotline.example.gov.cn"
TAG = "[12345-20261121-000123]"
# A tiny JPEG (SOI, JFIF APP0, an EXIF-less body, EOI): enough for a reference and a hash.
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    + bytes(range(256)) * 4
    + b"\xff\xd9"
)


def _msg(frm: str, subject: str, msgid: str, **headers: str) -> EmailMessage:
    m = EmailMessage(policy=policy.SMTP)
    m["From"] = frm
    m["To"] = MAILBOX
    m["Subject"] = subject
    m["Date"] = DATE
    m["Message-ID"] = f"<{msgid}@corpus.example>"
    for name, value in headers.items():
        m[name.replace("_", "-")] = value
    return m


def _boundaries(m: EmailMessage, stem: str) -> None:
    """Fixed boundaries so that the output does not change between runs."""
    for i, part in enumerate(m.walk()):
        if part.is_multipart():
            part.set_boundary(f"=={stem}-{i}==")


def generated() -> dict[str, bytes]:
    files: dict[str, bytes] = {}

    m = _msg("张三 <ZhangSan@Example.COM>", "小区路灯不亮", "g01")
    m.set_content("您好，幸福小区3栋门口的路灯已经坏了一个星期，晚上很黑，请尽快维修。\n张三")
    files["g01_plain_utf8.eml"] = m.as_bytes()

    m = _msg("李四 <lisi@example.net>", "噪音投诉", "g02")
    m.set_content(
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head><body>"
        "<p>每天晚上<b>十一点以后</b>楼下烧烤店很吵。</p><p>希望&nbsp;管理一下。</p></body></html>",
        subtype="html",
    )
    files["g02_html_only.eml"] = m.as_bytes()

    m = _msg("wang.wu@example.org", "Re: 咨询社保转移", "g03")
    m.set_content("请问社保从外地转入需要哪些材料？")
    m.add_alternative(
        "<html><body><p>HTML 版本：请问社保从外地转入需要哪些材料？</p></body></html>", subtype="html"
    )
    _boundaries(m, "g03")
    files["g03_alternative.eml"] = m.as_bytes()

    m = _msg("zhao6@example.com", "公交站牌", "g04")
    m.set_content("   \n")
    m.add_alternative("<div>公交站牌被撞倒了，在人民路口。</div>", subtype="html")
    _boundaries(m, "g04")
    files["g04_alternative_empty_plain.eml"] = m.as_bytes()

    # Foxmail and Outlook label GBK text "gb2312"; 镕 is not in GB2312.
    part = MIMEText("", "plain", "gb2312")
    part.set_payload(base64.encodebytes("朱镕基同志的题词碑在公园里被涂鸦了。".encode("gbk")).decode("ascii"))
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "base64"
    part["From"] = "=?gb2312?B?" + base64.b64encode("朱先生".encode("gbk")).decode() + "?= <zhu@example.cn>"
    part["To"] = MAILBOX
    part["Subject"] = "=?gb2312?B?" + base64.b64encode("朱镕基题词碑被涂鸦".encode("gbk")).decode() + "?="
    part["Date"] = DATE
    part["Message-ID"] = "<g05@corpus.example>"
    files["g05_gb2312_really_gbk.eml"] = part.as_bytes(policy=policy.compat32)

    part = MIMEText("", "plain", "gb18030")
    part.set_payload(
        base64.encodebytes("姓名里有生僻字𠮷和䶮，系统登记不了。".encode("gb18030")).decode("ascii")
    )
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "base64"
    part["From"] = "shengpi@example.cn"
    part["To"] = MAILBOX
    part["Subject"] = "=?gb18030?B?" + base64.b64encode("生僻字𠮷无法登记".encode("gb18030")).decode() + "?="
    part["Message-ID"] = "<g06@corpus.example>"
    files["g06_gb18030_four_byte.eml"] = part.as_bytes(policy=policy.compat32)

    part = MIMEText("", "plain", "big5")
    part.set_payload(base64.encodebytes("路燈不亮，請儘快處理。謝謝！".encode("big5")).decode("ascii"))
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "base64"
    part["From"] = (
        "=?big5?B?" + base64.b64encode("陳小姐".encode("big5")).decode() + "?= <chen@example.com.tw>"
    )
    part["To"] = MAILBOX
    part["Subject"] = "=?big5?B?" + base64.b64encode("路燈報修".encode("big5")).decode() + "?="
    part["Message-ID"] = "<g07@corpus.example>"
    files["g07_big5.eml"] = part.as_bytes(policy=policy.compat32)

    part = MIMEText("", "plain", "gbk")
    part.set_payload(
        "".join(
            f"={b:02X}" if b > 0x7E else chr(b) for b in "井盖丢失，很危险。位置：中山路88号".encode("gbk")
        )
    )
    del part["Content-Transfer-Encoding"]
    part["Content-Transfer-Encoding"] = "quoted-printable"
    part["From"] = "qp@example.cn"
    part["To"] = MAILBOX
    part["Subject"] = "=?GBK?Q?" + "".join(f"={b:02X}" for b in "井盖丢失".encode("gbk")) + "?="
    part["Message-ID"] = "<g08@corpus.example>"
    files["g08_gbk_quoted_printable.eml"] = part.as_bytes(policy=policy.compat32)

    m = _msg(
        "张三 <zhangsan@example.com>",
        f"Re: 小区路灯不亮 {TAG}",
        "g09",
        In_Reply_To="<12345.20261121-000123.0123456789abcdef@hotline.example.gov.cn>",
        References="<g01@corpus.example> <12345.20261121-000123.0123456789abcdef@hotline.example.gov.cn>",
    )
    m.set_content(
        "补充一下：坏的是靠近东门的那一盏。\n\n"
        "在 2026年11月21日 周六 10:05，12345热线 <12345@hotline.example.gov.cn> 写道：\n"
        "> 您好，您的诉求已登记，编号 20261121-000123。\n"
        "> 请问具体是哪一盏路灯？\n"
    )
    files["g09_reply_to_ticket_quoted.eml"] = m.as_bytes()

    m = _msg("刘女士 <liu@example.com>", "道路积水照片", "g10")
    m.set_content("附上照片，积水很深。")
    m.add_attachment(JPEG, maintype="image", subtype="jpeg", filename="积水照片.jpg")
    _boundaries(m, "g10")
    files["g10_photo_rfc2231_filename.eml"] = m.as_bytes()

    m = _msg(
        "陈经理 <chen@example.com>",
        "自动回复: 小区路灯不亮",
        "g12",
        Auto_Submitted="auto-replied",
        In_Reply_To="<12345.20261121-000123.0123456789abcdef@hotline.example.gov.cn>",
    )
    m.set_content("您好，我正在休假，11月30日返回，急事请联系同事。")
    files["g12_auto_reply.eml"] = m.as_bytes()

    m = _msg(
        "城市周刊 <news@weekly.example.com>",
        "本周城市资讯第48期",
        "g14",
        List_Id="<weekly.example.com>",
        List_Unsubscribe="<mailto:unsubscribe@weekly.example.com>",
        Precedence="bulk",
    )
    m.set_content("本周资讯：地铁新线开通、图书馆延长开放时间。")
    files["g14_newsletter_bulk.eml"] = m.as_bytes()

    m = _msg("孙先生 <sun@example.com>", f"答复: 占道经营 {TAG}", "g15", X_Mailer="Microsoft Outlook 16.0")
    m.set_content(
        "早上七点到九点最严重。\n\n"
        "________________________________\n"
        "发件人: 12345热线 <12345@hotline.example.gov.cn>\n"
        "发送时间: 2026年11月21日 10:05\n"
        "收件人: 孙先生 <sun@example.com>\n"
        "主题: 占道经营 [12345-20261121-000123]\n\n"
        "请问占道经营一般在什么时间？\n"
    )
    files["g15_outlook_reply_header_block.eml"] = m.as_bytes()

    m = _msg("zhou@example.com", "垃圾清运", "g16", X_Mailer="iPhone Mail (20A362)")
    m.set_content(
        "垃圾站三天没清运了，味道很大。\n\n发自我的iPhone\n\n"
        "------------------ 原始邮件 ------------------\n旧内容\n"
    )
    files["g16_iphone_signature_line.eml"] = m.as_bytes()

    m = _msg("John Wu <john.wu@example.com>", "Re: 外籍人员办证咨询", "g17")
    m.set_content(
        "谢谢，我下周一去办理。\n\n"
        "On Sat, Nov 21, 2026 at 10:05 AM 12345 Hotline <\n12345@hotline.example.gov.cn> wrote:\n\n"
        "> 您好，需要护照原件。\n"
    )
    files["g17_on_wrote_wrapped.eml"] = m.as_bytes()

    m = _msg("吴女士 <wu@example.com>", "学校门口交通拥堵", "g18")
    m.set_content("每天放学时间学校门口拥堵，建议增加交警疏导。\n-- \n吴女士\n电话：138-0013-8000\n")
    files["g18_signature_dash.eml"] = m.as_bytes()

    m = _msg("郑先生 <zheng@example.com>", "转发：物业通知", "g19")
    m.set_content("物业发了这个通知，收费不合理，请核实。")
    inner = _msg("物业 <wuye@example.com>", "物业费调整通知", "g19-inner")
    inner.set_content("自12月起物业费上调50%。")
    m.add_attachment(inner)
    _boundaries(m, "g19")
    files["g19_forwarded_rfc822.eml"] = m.as_bytes()

    m = _msg("冯先生 <feng@example.com>", "小区电梯故障", "g20")
    m.set_content("电梯困人两次了。")
    raw = m.as_bytes().replace(b"Subject: =?utf-8?b?", b"X-Was-Subject: =?utf-8?b?")
    raw = "Subject: 电梯故障（原始UTF-8头）\r\n".encode() + raw  # SMTPUTF8 clients send 8-bit headers
    files["g20_raw_utf8_headers.eml"] = raw

    part2 = MIMEMultipart("mixed", boundary="==g21==")
    for k, v in (
        ("From", "multi@example.com"),
        ("To", MAILBOX),
        ("Subject", "图文混排"),
        ("Message-ID", "<g21@x>"),
    ):
        part2[k] = v
    part2.attach(MIMEText("第一段：人行道破损。", "plain", "utf-8"))
    img = MIMEBase("image", "png")
    img.set_payload(base64.encodebytes(b"\x89PNG\r\n\x1a\n" + bytes(64)).decode())
    img["Content-Transfer-Encoding"] = "base64"
    img.add_header("Content-Disposition", "inline")
    part2.attach(img)
    part2.attach(MIMEText("第二段：已经有老人摔倒。", "plain", "utf-8"))
    files["g21_inline_parts.eml"] = part2.as_bytes()

    return files


def hostile() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    depth = 1000
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth)
    )
    files["x01_nested_1000.eml"] = (
        b"From: deep@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
        + head
        + b"Content-Type: text/plain\r\n\r\nbottom\r\n"
        + b"".join(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    )
    files["x02_to_100k.eml"] = (
        b"From: huge-to@example.com\r\nTo: " + b"(c):" * 25_000 + b"\r\nSubject: big To\r\n\r\n"
        b"body after a 100 KB To header\r\n"
    )
    files["x03_html_parser_bomb.eml"] = (
        b"From: html-bomb@example.com\r\nSubject: html\r\nContent-Type: text/html\r\n\r\n<p>visible</p>"
        + b"</" * 100_000
        + b"<!--" * 50_000
    )
    return files


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in {**generated(), **hostile()}.items():
        (OUT / name).write_bytes(data)
        print(f"{name}: {len(data)} bytes")


if __name__ == "__main__":
    main()
