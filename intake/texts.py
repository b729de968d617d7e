"""What the dialog says to citizens: short, courteous zh-CN (one place, so wording is reviewed once)."""

from __future__ import annotations

from datetime import datetime

from intake.model import SHANGHAI, Field

WELCOME = (
    "您好，这里是12345政务服务便民热线。请直接描述您要反映的问题或咨询的事项，"
    "如涉及具体地点，请一并说明地址。"
)
MEANINGLESS = "您好，没有看清您的内容。请用文字简要描述您要反映的问题或咨询的事项。"
TOO_LONG = "您发送的内容过长（超过{limit}字），请精简后分条发送，谢谢。"
NOT_CHINESE = (
    "您好，本热线以中文受理诉求，请尽量使用中文描述。"
    "Hello, this hotline accepts requests in Chinese; please describe your request in Chinese."
)
STRAY_DIGIT = "您好，目前没有需要您选择的问题。请直接描述您要反映的问题或咨询的事项。"
THANKS = "不客气，感谢您对12345热线的支持。如有其他诉求，请随时告诉我们。"
ASK_CATEGORY = "请问您的诉求属于哪一类？请选择："
PRAISE_NOTED = "感谢您的肯定与鼓励！我们已记录您的表扬，并将转达给相关单位和工作人员。"
CATEGORY_CHOICES = ("投诉", "举报", "求助", "咨询", "意见建议", "表扬")
CATEGORY_NOT_UNDERSTOOD = "抱歉，没有识别您的选择，请点击或回复以下类别之一："
# The yes/no question when the text model is unsure (issue 16): the best guess, in plain words.
CONFIRM_CATEGORY = "请确认：您是要{what}吗？"
CATEGORY_MEANING = {
    "咨询": "咨询相关政策或办事信息",
    "求助": "求助，请有关部门帮助解决问题",
    "投诉": "投诉，请有关部门依法处理",
    "举报": "举报违法违规行为",
    "意见建议": "提出意见建议",
    "表扬": "表扬相关单位或工作人员",
}
YES_NO = ("是", "不是")
CONFIRM_NOT_UNDERSTOOD = "抱歉，没有看懂您的回复，请回复“是”或“不是”。"
REPLY_WITH_NUMBER = "请回复序号或文字。"
ASK_OTHER_CATEGORY = "好的，请问您的诉求属于哪一类？请选择："
_YES = frozenset(
    {
        "是",
        "是的",
        "是啊",
        "对",
        "对的",
        "对啊",
        "嗯",
        "嗯嗯",
        "没错",
        "确认",
        "好",
        "好的",
        "可以",
        "y",
        "yes",
        "ok",
        "1",
    }
)
_NO = frozenset({"不是", "不是的", "不对", "否", "错了", "不", "都不是", "no", "n", "2"})
_ANSWER_NOISE = str.maketrans("", "", "。.!！，,~～ 　")


def yes_or_no(text: str) -> bool | None:
    """True for a yes, False for a no, None for anything else ("是的。", "不是", "1", "OK")."""
    t = text.strip().lower().translate(_ANSWER_NOISE)
    return True if t in _YES else False if t in _NO else None


ASK_MISSING_HEAD = "为尽快为您登记，请一次性补充以下信息：\n{items}\n请在一条消息中回复"
# the format hint only where an address is asked; a privacy line before a phone is asked (issue 19)
ADDRESS_HINT = "，可按“地址：…”的格式填写"
PRIVACY_LINE = "\n您的联系方式仅用于办理本诉求，不会向无关方公开。"


def ask_missing(fields: list[Field]) -> str:
    """The one-time prompt listing everything still missing (guangzhou §12)."""
    hint = ADDRESS_HINT if Field.ADDRESS in fields else ""
    privacy = PRIVACY_LINE if Field.PHONE in fields else ""
    return ASK_MISSING_HEAD.format(items=missing_list(fields)) + hint + "。" + privacy


STILL_MISSING = (
    "您补充的信息仍缺少：{items}。按规定信息只能补充{times}次，本次诉求暂无法登记。"
    "如需办理，请在{until}前重新发送，写明{items}即可，已提供的内容我们会保留。"
)
REFILED = "已接续您此前提交的诉求，并补入本次提供的信息。"
ASK_STILL_MISSING = "您补充的信息仍缺少：{items}。请再补充一次（还可补充{left}次）。"
# A live conversation (web chat, Telegram, SMS): what is kept, and only what is still missing.
ASK_LIVE_MISSING = "好的，已记下。还需要您补充：{items}。"
UNKNOWN_SUBJECT_HINT = "（不清楚是谁，回复“不知道”即可）"

_TIMES = "零一两三四五六七八九十"


def times(n: int) -> str:
    """一, 两, 三 … for a count told to the citizen (两次, not 二次); digits from eleven on."""
    return _TIMES[n] if 0 <= n < len(_TIMES) else str(n)


WINDOW_EXPIRED = "您好，您的诉求草稿在{days}天内未补充所需信息，已按规定关闭。欢迎您准备完整信息后重新提交。"
ASK_HIDE = "好的，我们会为您保密。请选择需要隐藏的信息（可多选，用顿号分隔）："
HIDE_CHOICES = ("姓名", "联系电话", "身份证号", "住址", "全部隐藏")
HIDE_WARNING = "提示：隐藏个人信息可能影响诉求的登记和办理（如无法回访核实），我们仍会尽力为您办理。"
HIDE_CONFIRMED = "已为您隐藏：{items}。这些信息不会出现在派发给承办单位的工单中。"
REAL_NAME_REQUIRED = "您反映的事项（{matter}）按规定需要实名办理，无法匿名登记。是否继续以实名方式办理？"
REAL_NAME_CHOICES = ("继续实名办理", "取消")
REAL_NAME_DECLINED = "好的，本次诉求未登记。如需办理，欢迎随时以实名方式重新提交。"
REGISTERED = (
    "您的诉求已登记，工单号：{number}（{category}）。预计{deadline}前答复您。"
    "可随时发送“查询进度”了解办理情况。"
)
REGISTERED_NO_DEADLINE = "您的诉求已登记，工单号：{number}（{category}）。可随时发送“查询进度”了解办理情况。"
NO_OPEN_TICKETS = "您目前没有正在办理的工单。如有新的诉求，请直接描述。"
PROGRESS_LINE = "工单{number}（{category}）：{status}{deadline}"
# Progress by number from another device or channel (CONTRACT.md): the phone proves the ticket is theirs.
# A person asked for (issue 19): the queue's length now, the bot quiet until an agent hands back.
TO_AGENT_LEAD = "好的，"
BOT_FAILED_LEAD = "抱歉，我没能理解您的意思。"  # the bot failed twice in a row (issue 19)
TO_AGENT = (
    "{lead}已为您转接人工客服，{wait}工作人员会在这里回复您，请稍候。"
    "您可以继续留言说明情况；如遇紧急情况请直接拨打110、119或120。"
)
TO_AGENT_FIRST = "您是第一位，"
TO_AGENT_AHEAD = "您前面还有{ahead}位市民在等待，"
ASK_PHONE_TAIL = "为保护诉求人信息，查询工单{number}前请回复该工单登记的手机号码后四位。"
PHONE_TAIL_WRONG = "核对未通过，请重新输入手机号码后四位（还可输入{left}次）。"
PHONE_TAIL_FAILED = "核对未通过，暂不能显示该工单。请在提交工单时使用的渠道查询，或拨打12345热线。"
PHONE_TAIL_LOCKED = "该工单今日核对失败次数过多，请明天再试，或在提交工单时使用的渠道查询。"
ASK_WHICH_TICKET = "您有多张工单，请选择要{action}的工单："
WITHDRAWN = "工单{number}已为您撤回，感谢您的理解与支持。"
WITHDRAWAL_REQUESTED = "已收到您撤回工单{number}的申请，已转{unit}按规定结束工单，结束后将通知您。"
WITHDRAWN_REPORT_MAY_CONTINUE = "举报事项撤回后，承办单位仍可依职责继续核实办理。"
# Mail may withdraw or evaluate only in the ticket's thread and after a code mailed to the
# address on record comes back (issue 18: a forged From: withdrew a citizen's ticket).
MAIL_NEEDS_THREAD = "为保护您的工单，撤回或评价请直接回复我们发给您的工单邮件（主题含“[12345-工单号]”）。"
MAIL_CONFIRM_CODE = (
    "您申请{what}工单{number}。为确认是您本人操作，请直接回复本邮件，在正文中写上确认码：{code}"
    "（24小时内有效）。如非本人操作，请忽略本邮件，工单不受影响。"
)
MAIL_CONFIRM_WHAT = {"withdraw": "撤回", "evaluate": "评价"}
WITHDRAW_NOT_ALLOWED = "工单{number}当前状态为“{status}”，无法撤回。"
SUPPLEMENT_RECORDED = "已将您补充的内容记入工单{number}，承办单位将一并处理。"
CANCELLED = "好的，已取消本次填写。如有新的诉求，请直接描述。"
NOTHING_TO_CANCEL = "您目前没有正在填写的诉求。"
ANOTHER_REQUEST = "如需提交新的诉求，请直接描述。"
EVAL_REASK = "请回复数字进行评价：1 非常满意 2 满意 3 基本满意 4 不满意 5 非常不满意"
EVAL_INVALID = "您的回复不在评价选项内，本次评价记为无效。感谢您的反馈。"
EVAL_WHICH = "您有多张工单待评价，请在数字前注明序号，例如“{ref} 2”：\n{lines}"
EVAL_THANKS = "感谢您对工单{number}的评价（{level}）！"
EVAL_ALREADY = "工单{number}本轮已评价，感谢您的反馈。"
# A dissatisfied answer the hotline reviews first (guangzhou §28, huizhou §25, guangxi §27.3)
EVAL_REVIEW = "很抱歉办理结果未能让您满意。热线工作人员将尽快回访您，核实情况后决定是否重新办理工单{number}。"
REVIEW_CLOSED = "关于工单{number}：经热线回访核实，{reason}。本工单已办结，感谢您的理解。"
# The hotline's own texts to units and in the history (issue 21)
UNIT_WARNING = {
    "yellow": "【黄牌预警】工单{number}将于{deadline}到期，请抓紧办理。",
    "red": "【红牌警告】工单{number}已于{deadline}逾期，请立即办理并说明情况。",
}
# Phone requests missing information (guangzhou §12.1): the reason noted when the hotline ends them
PHONE_SUPPLEMENT_NO_ANSWER = "{n} 次电话联系（每次间隔至少 {minutes} 分钟）诉求人均未接听"
PHONE_SUPPLEMENT_REFUSED = "诉求人拒绝补充信息"
PHONE_SUPPLEMENT_STILL_MISSING = "补充后仍缺少办理所需的信息"
PHONE_SUPPLEMENT_CLOSED = "您来电反映的诉求因{reason}，暂无法登记办理。您可准备完整信息后再次拨打12345热线。"
SUPERVISION_OVERDUE = "逾期未办结，请说明情况并限期办结"
SUPERVISION_AFTER_REHANDLING = "重新办理后诉求人仍不满意，请核实原因并限期办结"
EVAL_REHANDLING = "很抱歉办理结果未能让您满意。我们已安排对工单{number}重新办理，将于{deadline}前再次答复您。"
TOO_FAST = "您发送消息过于频繁，请稍后再试。您的消息我们已经收到。"
RESTRICTED = "您的账号因多次发送不当内容，已被暂停使用本渠道至{until}。如有紧急情况请拨打110。"

STATUS_WORDS = {
    "collecting": "正在登记",
    "awaiting_supplement": "待补充信息",
    "registered": "已登记，待派发",
    "dispatched": "已派发至承办单位",
    "signed": "承办单位已签收，正在办理",
    "extended": "已延期办理",
    "completed": "已办结，待评价",
    "rehandling": "重新办理中",
    "closed": "已办结",
    "withdrawn": "已撤回",
    "rejected": "不予受理",
    "redirected": "已转紧急部门",
}


def format_deadline(when: datetime) -> str:
    local = when.astimezone(SHANGHAI)
    return f"{local.year}年{local.month}月{local.day}日{local.hour:02d}:{local.minute:02d}"


def missing_list(fields: list[Field]) -> str:
    return "\n".join(f"{i}. {f.label}" for i, f in enumerate(fields, 1))


def joined(fields: list[Field]) -> str:
    return "、".join(f.label for f in fields)


KB_ANSWER = "{answer}\n如未解决您的问题，请回复“没解决”，我们将为您登记工单；需要人工服务请回复“转人工”。"
KB_TO_TICKET = "好的，为您登记为咨询工单，由相关部门答复您。"
REPEAT = (
    "您反映的事项此前已办理（工单{number}），办理结果：{result}\n"
    "如有新的情况或理由，请补充说明，我们将为您重新登记。"
)
REPEAT_NO_RESULT = "已办结并答复"
NEW_FACTS = "新情况："


def numbered(text: str, choices: tuple[str, ...]) -> str:
    """A question with its choices for a channel without buttons (SMS, mail): each on its own line,
    numbered, answerable with the number or the words ("1 投诉", "2 举报"…)."""
    if not choices:
        return text
    lines = "\n".join(f"{i} {c}" for i, c in enumerate(choices, 1))
    return f"{text}\n{lines}\n{REPLY_WITH_NUMBER}"
