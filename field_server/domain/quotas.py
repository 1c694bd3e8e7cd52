"""Storage quotas: whether a new upload fits what a person and their expeditions may keep.

The rule, for an upload that declares ``length`` bytes (tus creation), checked in this order:

| what is full                                            | answer                          |
| ------------------------------------------------------- | ------------------------------- |
| the person has ``open_uploads`` uploads unfinished       | refused: ``open_uploads``       |
| person's stored + reserved + ``length`` > ``user_bytes`` | refused: ``user``               |
| for one of their expeditions, its stored + reserved +    | refused: ``expedition`` (the    |
| ``length`` > ``expedition_bytes``                        | first such, by code)            |
| nothing                                                  | accepted                        |

*Stored* bytes are blobs in the store; *reserved* bytes are the declared lengths of uploads
not yet finished, so a hundred uploads that each declare 4 GiB fill a quota before a single
byte of them arrives. A finished upload moves from reserved to stored, never counting twice.
A limit of 0 bytes refuses every upload; the unfinished-upload cap counts uploads, not bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

GIB = 1024**3


@dataclass(frozen=True)
class StorageLimits:
    user_bytes: int = 20 * GIB  # a season of one person's camera photos, RAW files aside
    expedition_bytes: int = 100 * GIB
    open_uploads: int = 20  # a client sends a handful at once; more is a flood


@dataclass(frozen=True)
class StorageUse:
    stored_bytes: int = 0
    reserved_bytes: int = 0  # declared by uploads not yet finished

    @property
    def total(self) -> int:
        return self.stored_bytes + self.reserved_bytes


@dataclass(frozen=True)
class QuotaRefusal:
    """Which limit a new upload would pass: ``open_uploads``, ``user`` or ``expedition``
    (then ``expedition`` names it), with the limit and the use it was measured against."""

    limit_name: str
    limit: int
    use: int
    asked: int
    expedition: str | None = None

    def sentence(self) -> str:
        if self.limit_name == "open_uploads":
            return (
                f"you have {self.use} unfinished uploads, as many as this server keeps open "
                "for one person: finish or terminate (DELETE) one before starting another"
            )
        whose = "your" if self.expedition is None else f"expedition {self.expedition}'s"
        return (
            f"an upload of {self.asked} bytes would take {whose} photos to "
            f"{self.use + self.asked} bytes, past the quota of {self.limit} bytes "
            f"({self.use} bytes are stored or declared by unfinished uploads)"
        )


def refusal_of_new_upload(
    limits: StorageLimits,
    length: int,
    open_uploads: int,
    user: StorageUse,
    expeditions: Mapping[str, StorageUse],
) -> QuotaRefusal | None:
    """Why an upload declaring ``length`` bytes may not start, or None when it fits."""
    if open_uploads >= limits.open_uploads:
        return QuotaRefusal("open_uploads", limits.open_uploads, open_uploads, length)
    if user.total + length > limits.user_bytes:
        return QuotaRefusal("user", limits.user_bytes, user.total, length)
    for code in sorted(expeditions):
        use = expeditions[code]
        if use.total + length > limits.expedition_bytes:
            return QuotaRefusal("expedition", limits.expedition_bytes, use.total, length, code)
    return None
