"""Give every corpus record without one its split, once: train 70 %, dev 15 %, test 15 %.

    .venv/bin/python scripts/corpus_split.py

The split comes from a hash of the record's id, so it does not depend on file order, and a record
keeps the split it was given: adding records never moves old ones between splits. The test split
is for reporting only (bench/understanding_quality.py); nothing is tuned on it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from intake.corpus import CORPUS, split_of


def main() -> int:
    changed = 0
    for path in sorted(CORPUS.glob("*.jsonl")):
        lines = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            rec = json.loads(line)
            if rec.get("split") not in ("train", "dev", "test"):
                rec["split"] = split_of(str(rec["id"]))
                changed += 1
            lines.append(json.dumps(rec, ensure_ascii=False))
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{changed} records given a split")
    return 0


if __name__ == "__main__":
    sys.exit(main())
