"""settle_heap (intake/runtime.py): what a long-running process built at start-up is out of the
cycle collector's walk, and cycles the traffic creates are still freed. Run in a child
interpreter: the collector's settings are process-wide."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent(
    """
    import gc, weakref
    from intake.extract import default_lexicon, warm_up
    from intake.runtime import YOUNG_COLLECTION_AFTER, settle_heap

    warm_up()
    lexicon = default_lexicon()
    assert any(o is lexicon for o in gc.get_objects()), "walked before"
    settle_heap()
    assert not any(o is lexicon for o in gc.get_objects()), "still walked after settle_heap"
    assert gc.isenabled() and gc.get_threshold()[0] == YOUNG_COLLECTION_AFTER

    class Node:
        pass

    a, b = Node(), Node()
    a.other, b.other = b, a  # a cycle: reference counting alone never frees it
    gone = weakref.ref(a)
    del a, b
    for _ in range(3 * YOUNG_COLLECTION_AFTER):  # traffic: allocations that stay alive a while
        Node()
    kept = [Node() for _ in range(2 * YOUNG_COLLECTION_AFTER)]
    assert gone() is None, "a cycle made after start-up was never collected"
    print("ok", len(kept))
    """
)


def test_start_up_objects_leave_the_collectors_walk_and_new_cycles_are_still_freed() -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok")
