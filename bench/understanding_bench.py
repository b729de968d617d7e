"""Per-message cost of what every dialog turn runs: understanding, screening and the knowledge base.

    .venv/bin/python bench/understanding_bench.py [--calls 2000] [--rounds 3]

Measured in one process, on texts that are all different, in every round too (a numbered suffix,
numbers in the addresses and phones), so no cache of a whole text helps: short web-chat questions
("请问办理居住证需要带什么材料？ #12", "你好") and long complaints (~180 characters with an
address, a name, a phone number and a demand). Parts of texts do repeat, as they do in real
traffic (请问, 我要投诉, 谢谢): "cold" rows clear every cache of intake.extract, intake.kb and
intake.screening before each call, the cost of a message whose every block is new. Prints CPU µs
per call (process time, steadier than wall time on shared cores; the best and the median of
``--rounds`` rounds); asserts nothing.

"turn" is what ``intake.dialog.step`` asks of these ports for a new message: is_meaningless,
understand, screening twice (the emergency check, then the screening proper) and, for a
consultation, the knowledge base.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake.assembly import jurisdiction_of
from intake.extract import default_lexicon, extract, fill_fields, warm_up
from intake.kb import KnowledgeBase
from intake.model import SHANGHAI, Field
from intake.screening import Screener
from intake.understanding import ExtractUnderstanding

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)

SHORT = (
    "请问办理居住证需要带什么材料？",
    "社保卡丢了怎么补办？",
    "公积金怎么提取？",
    "你好",
    "新生儿怎么办理医保",
    "驾驶证到期了在哪里换证",
    "谢谢",
    "查询进度",
)
LONG = (
    "我要投诉，我住在幸福小区{n}栋，楼下的烧烤店每天晚上油烟很大，一直营业到凌晨两点，"
    "吵得老人小孩都睡不着，已经跟物业和社区反映过很多次都没有用，店主态度还很恶劣，说有本事去告，"
    "烟道就对着我们家的窗户，夏天根本不敢开窗，家里老人有哮喘，这两个月去了三次医院，"
    "希望城管和环保部门尽快来查处，还居民一个安静的环境。我叫王小明，电话1380013{n:04d}，谢谢。",
    "举报广州市天河区和平路{n}号的某某科技有限公司拖欠我们二十多个工人三个月的工资，"
    "老板电话一直打不通，公司大门也锁了，我们去劳动监察大队问过，说要先登记，现在过年回家的路费都没有，"
    "有几个工友家里还有孩子要交学费，我们也签过劳动合同，工资条和考勤记录都有，"
    "请劳动部门帮忙追讨工资，联系人张女士，手机139{n:08d}，身份证号码11010519491231002X。",
)
REPLY = "我叫王小明，电话1380013{n:04d}，地址在幸福小区{n}栋"
WANTED = [Field.NAME, Field.PHONE, Field.HOME_ADDRESS]


def short_texts(count: int, first: int = 0) -> list[str]:
    return [f"{SHORT[i % len(SHORT)]} #{i}" for i in range(first, first + count)]


def long_texts(count: int, first: int = 0) -> list[str]:
    return [LONG[i % len(LONG)].format(n=i) for i in range(first, first + count)]


def replies(count: int, first: int = 0) -> list[str]:
    return [REPLY.format(n=i) for i in range(first, first + count)]


_serial = 100_000  # every round asks for texts never seen before


def per_call(
    fn: Callable[[str], object],
    texts: Callable[[int, int], list[str]],
    count: int,
    rounds: int,
    *,
    cold: bool = False,
) -> tuple[float, float]:
    """(best, median) µs per call over ``rounds`` passes, each over ``count`` new texts."""
    global _serial
    times = []
    for _ in range(rounds):
        batch = texts(count, _serial)
        _serial += count
        spent = 0.0
        if cold:
            for t in batch:
                clear_caches()
                start = time.process_time()
                fn(t)
                spent += time.process_time() - start
        else:
            start = time.process_time()
            for t in batch:
                fn(t)
            spent = time.process_time() - start
        times.append(spent / count * 1e6)
    return min(times), statistics.median(times)


def clear_caches() -> None:
    """Forget every remembered text, block and word (not the word lists nor compiled patterns)."""
    for module in list(sys.modules.values()):
        name = getattr(module, "__name__", "")
        if not name.startswith(("intake.extract", "intake.kb", "intake.screening", "intake.phones")):
            continue
        for value in list(vars(module).values()):
            _clear(value)
    for obj in _instances:
        for value in list(vars(obj).values()):
            _clear(value)
    words_seen = getattr(sys.modules.get("intake.extract.entities"), "_words_seen", None)
    if words_seen is not None:  # what the address and subject rules learnt about each word
        words_seen(default_lexicon()).clear()


def _clear(value: object) -> None:
    """Clear a bounded lru_cache; unbounded ones (@functools.cache) hold loaded state, not texts."""
    info = getattr(value, "cache_info", None)
    if info is not None and (info().maxsize or 0) > 1:
        value.cache_clear()  # type: ignore[attr-defined]


_instances: list[object] = []


def measure(calls: int = 2000, rounds: int = 3) -> dict[str, Any]:
    """Every row of the table: {row: {set: {"best_us", "median_us"}}}, and the texts' lengths."""
    warm_up()
    understanding = ExtractUnderstanding()
    screener = Screener.from_file(None, jurisdiction=jurisdiction_of("guangzhou"))
    kb = KnowledgeBase.load()
    _instances.extend(_cached_parts(screener, kb))

    def turn(text: str) -> None:
        if understanding.is_meaningless(text):
            return
        u = understanding.understand(text)
        screener.screen(u.text)
        screener.screen(u.text)
        if u.category is None or u.category.value == "咨询":
            kb.answer(u.text, NOW)

    cases: list[tuple[str, Callable[[str], object], bool]] = [
        ("extract", extract, False),
        ("understand", understanding.understand, False),
        ("screen", screener.screen, False),
        ("kb.answer", lambda t: kb.answer(t, NOW), False),
        ("turn", turn, False),
        ("extract cold", extract, True),
        ("turn cold", turn, True),
    ]
    sets: dict[str, tuple[Callable[[int, int], list[str]], int]] = {
        "short": (short_texts, calls),
        "long": (long_texts, max(1, calls // 4)),
    }
    for t in (*short_texts(50), *long_texts(10)):  # first calls build lazy state
        turn(t)

    rows: dict[str, dict[str, dict[str, float]]] = {}
    for label, fn, cold in cases:
        rows[label] = {}
        for name, (make, count) in sets.items():
            best, med = per_call(fn, make, count, rounds, cold=cold)
            rows[label][name] = {"best_us": best, "median_us": med}
    best, med = per_call(lambda t: fill_fields(WANTED, t), replies, max(1, calls // 4), rounds)
    rows["fill (reply)"] = {"reply": {"best_us": best, "median_us": med}}
    return {
        "settings": {"calls": calls, "rounds": rounds},
        "rows": rows,
        "chars": {
            "short": statistics.mean(map(len, short_texts(100))),
            "long": statistics.mean(map(len, long_texts(100))),
        },
    }


def report(fig: dict[str, Any]) -> None:
    rows = fig["rows"]
    print(f"understanding_bench: µs per call, best / median of {fig['settings']['rounds']} rounds")
    print(f"  {'':14}" + "".join(f"{name:>22}" for name in fig["chars"]))
    for label, cells in rows.items():
        print(
            f"  {label:14}"
            + "".join(f"{c['best_us']:>12.1f} / {c['median_us']:>7.1f}" for c in cells.values())
        )
    print(f"  short ≈ {fig['chars']['short']:.0f} chars, long ≈ {fig['chars']['long']:.0f} chars")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=2000, help="short texts per round (long ones: a quarter)")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    report(measure(args.calls, args.rounds))


def _cached_parts(screener: Screener, kb: KnowledgeBase) -> list[object]:
    """The objects whose attributes may hold per-instance caches (cleared by the cold rows)."""
    parts: list[object] = [screener, kb, kb.segmenter]
    for owner in (screener, kb):
        for value in vars(owner).values() if hasattr(owner, "__dict__") else ():
            parts.append(value)
            if hasattr(value, "__dict__"):
                parts.extend(vars(value).values())
    return [p for p in parts if hasattr(p, "__dict__")]


if __name__ == "__main__":
    main()
