"""Check the understanding corpus (intake/data/corpus/*.jsonl) against its schema.

    python scripts/corpus_check.py [files...]

Prints every problem with the record's id and a summary of counts; exits 1 when a problem is found.
The schema is described in intake/data/corpus/GUIDE.md.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

CORPUS = Path(__file__).resolve().parent.parent / "intake" / "data" / "corpus"
# the hotlines are the policy profiles (intake/policy/profiles/<name>.toml); read without importing
# the product, so that the check runs with any Python 3.11
CITIES = {p.stem for p in (CORPUS.parent.parent / "policy" / "profiles").glob("*.toml")}
CHANNELS = {"chat", "sms", "email", "telegram"}
KINDS = {"emergency", "out_of_scope", "kb", "ticket"}
CATEGORIES = {"咨询", "求助", "投诉", "举报", "意见建议", "表扬"}
NUMBERS = {"110", "119", "120", "122", "12356"}
SITUATIONS = {"medical", "self_harm", "fire", "gas", "violence", "trapped", "drowning", "traffic"}
REASONS = {
    "litigation",
    "petition",
    "discipline",
    "courts",
    "military",
    "party_npc_cppcc",
    "secrets",
    "other_city",
}
URGENT = {"utility_outage", "sewage_overflow", "road_blocked", "safety_hazard", "pollution", "disaster"}
FIELDS = {"subject", "address", "demand", "name", "phone"}
STYLES = {"short", "medium", "letter"}
SPLITS = {"train", "dev", "test"}
KEYS = {
    "id",
    "city",
    "channel",
    "text",
    "kind",
    "category",
    "also",
    "numbers",
    "situation",
    "reason",
    "place",
    "urgent",
    "fields",
    "style",
    "notes",
    "split",
}


def problems(rec: dict[str, object]) -> list[str]:
    out: list[str] = []
    extra = set(rec) - KEYS
    if extra:
        out.append(f"unknown keys {sorted(extra)}")
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        return [*out, "no text"]
    if rec.get("city") not in CITIES:
        out.append(f"city {rec.get('city')!r}")
    if rec.get("channel") not in CHANNELS:
        out.append(f"channel {rec.get('channel')!r}")
    if rec.get("style") not in STYLES:
        out.append(f"style {rec.get('style')!r}")
    if "split" in rec and rec["split"] not in SPLITS:
        out.append(f"split {rec['split']!r}")
    kind = rec.get("kind")
    if kind not in KINDS:
        return [*out, f"kind {kind!r}"]
    if kind in ("ticket", "kb"):
        if rec.get("category") not in CATEGORIES:
            out.append(f"category {rec.get('category')!r}")
        if kind == "kb" and rec.get("category") != "咨询":
            out.append("kb must be 咨询")
        also = rec.get("also", [])
        if (
            not isinstance(also, list)
            or len(also) > 1
            or any(a not in CATEGORIES or a == rec.get("category") for a in also)
        ):
            out.append(f"also {also!r}")
    elif "category" in rec or "also" in rec:
        out.append("category on a non-ticket")
    if kind == "emergency":
        nums = rec.get("numbers")
        if (
            not isinstance(nums, list)
            or not nums
            or any(n not in NUMBERS for n in nums)
            or len(set(nums)) != len(nums)
        ):
            out.append(f"numbers {nums!r}")
        if rec.get("situation") not in SITUATIONS:
            out.append(f"situation {rec.get('situation')!r}")
    elif "numbers" in rec or "situation" in rec:
        out.append("numbers on a non-emergency")
    if kind == "out_of_scope":
        if rec.get("reason") not in REASONS:
            out.append(f"reason {rec.get('reason')!r}")
        if rec.get("reason") == "other_city" and not rec.get("place"):
            out.append("other_city without place")
    elif "reason" in rec or "place" in rec:
        out.append("reason on an in-scope message")
    if "urgent" in rec and (kind != "ticket" or rec["urgent"] not in URGENT):
        out.append(f"urgent {rec['urgent']!r}")
    fields = rec.get("fields", {})
    if not isinstance(fields, dict):
        out.append("fields not an object")
    else:
        if fields and kind != "ticket":
            out.append("fields on a non-ticket")
        for k, v in fields.items():
            if k not in FIELDS:
                out.append(f"field {k!r}")
            elif not isinstance(v, str) or not v or v not in text:
                out.append(f"field {k}={v!r} is not a substring of the text")
    return out


def load(paths: list[Path]) -> list[dict[str, object]]:
    recs = []
    for path in paths:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                recs.append({"id": f"{path.name}:{n}", "text": "", "_error": str(exc)})
                continue
            rec["_file"] = path.name
            recs.append(rec)
    return recs


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted(CORPUS.glob("*.jsonl"))
    recs = load(paths)
    bad = 0
    seen: dict[object, str] = {}
    texts: dict[str, object] = {}
    for rec in recs:
        file = rec.pop("_file", "?")
        if "_error" in rec:
            print(f"{rec['id']}: invalid JSON: {rec['_error']}")
            bad += 1
            continue
        found = problems(rec)
        if rec.get("id") in seen:
            found.append(f"duplicate id (also in {seen[rec.get('id')]})")
        seen[rec.get("id")] = str(file)
        text = str(rec.get("text", ""))
        if text in texts:
            found.append(f"same text as {texts[text]}")
        texts[text] = rec.get("id")
        for p in found:
            print(f"{file} {rec.get('id')}: {p}")
        bad += bool(found)
    count = collections.Counter(
        str(r.get("category") or r.get("situation") or r.get("reason")) + "/" + str(r.get("kind"))
        for r in recs
    )
    print(f"{len(recs)} records, {bad} with problems")
    for key, n in sorted(count.items()):
        print(f"  {key:28} {n}")
    styles = collections.Counter(str(r.get("style")) for r in recs)
    print("  styles:", dict(styles))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
