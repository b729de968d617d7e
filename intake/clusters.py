"""Near-duplicates across senders (issue 7): the same pothole reported by twenty people is linked
to one cluster that agents see. Only the link is shared; no citizen's data moves between tickets.

Two reports are one matter when they name the same place (the address field, compared after
normalisation) and their descriptions share enough characters (Jaccard over Chinese characters,
the place and function words left out). Characters, not words: people write 大坑/深坑,
马路/路面 for the same hole, which word segmentation keeps apart.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from intake.extract import normalize
from intake.model import Field, PlaceTicket
from intake.store.sql import SqlStore

LOOKBACK = timedelta(days=30)
THRESHOLD = 0.2
# Function words and the words of asking itself (反映, 投诉, 希望 …) say nothing about the matter.
_FUNCTION_CHARS = set(
    "的了是在我要有个一这那就也都和与及或被把很还请您你他她它们吗呢吧啊反映投诉举报求助希望想"
)
_CJK = re.compile(r"[\u4e00-\u9fff]")
_NOISE = re.compile(r"[\s，。！？、；：,.!?;:()（）【】\[\]\-—]")


def place(fields: Mapping[Field, str]) -> str:
    return _NOISE.sub("", normalize(fields.get(Field.ADDRESS, "")))


def matter_chars(fields: Mapping[Field, str]) -> set[str]:
    text = normalize(" ".join(fields.get(f, "") for f in (Field.SUBJECT, Field.CONTENT)))
    text = text.replace(place(fields), "") if place(fields) else text
    return {c for c in _CJK.findall(text) if c not in _FUNCTION_CHARS}


def same_matter(a: Mapping[Field, str], b: Mapping[Field, str], threshold: float = THRESHOLD) -> bool:
    pa, pb = place(a), place(b)
    if not pa or pa != pb:
        return False
    ca, cb = matter_chars(a), matter_chars(b)
    if not ca or not cb:
        return False
    return len(ca & cb) / len(ca | cb) >= threshold


class Clusters:
    def __init__(self, store: SqlStore, threshold: float = THRESHOLD) -> None:
        self.store = store
        self.threshold = threshold
        self._all_keyed = False

    def key_of(self, fields: Mapping[Field, str]) -> str:
        """The ticket's place key: the keyed hash of its place, "" when it names none."""
        where = place(fields)
        return self.store.place_key(where) if where else ""

    def backfill(self, limit: int = 500) -> int:
        """Give open tickets registered before places were keyed their key, ``limit`` a call
        (the worker's sweep); once none is left, a no-op for the life of the process."""
        if self._all_keyed:
            return 0
        found = self.store.unkeyed_open(limit)
        for t in found:
            self.store.update_ticket(t.id, place_key=self.key_of(t.fields))
        self._all_keyed = len(found) < limit
        return len(found)

    def assign(self, ticket_id: int) -> str | None:
        """Link a just-registered ticket to the earliest open ticket of another sender about the
        same matter (its number names the cluster). Returns the cluster."""
        t = self.store.get_ticket(ticket_id)
        key = self.key_of(t.fields)
        cluster = None
        if t.category is not None:
            cluster = self.find(t.id, t.category, t.address_key, t.fields, key, t.created_at)
        self.store.update_ticket(t.id, place_key=key, cluster=cluster or t.cluster)
        return cluster

    def find(
        self,
        ticket_id: int,
        category: str,
        address_key: str,
        fields: Mapping[Field, str],
        place_key: str,
        created_at: datetime,
    ) -> str | None:
        """The cluster a ticket about to be registered joins, or None; the earliest match is
        made the cluster's head here, and the caller writes the cluster on the ticket itself
        (the dialog in the statement that numbers it, ``assign`` with the place key)."""
        if not place_key:
            return None
        match: PlaceTicket | None = None
        since = created_at - LOOKBACK
        for other in self.store.open_at_place(category, place_key, since):
            if other.id == ticket_id or other.address_key == address_key:
                continue  # the same sender's repeat is another rule (guangzhou §24)
            if same_matter(fields, other.fields, self.threshold):
                match = other  # oldest first: the first match is the earliest ticket
                break
        if match is None:
            return None
        cluster = match.cluster or match.number
        if match.cluster is None:
            self.store.update_ticket(match.id, cluster=cluster)
        return cluster
