"""Who may read and write what: roles and expedition membership."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    REVIEWER = "reviewer"
    REGISTRAR = "registrar"
    RECORDER = "recorder"


MUSEUM_WIDE_READERS = frozenset({Role.ADMIN, Role.REVIEWER, Role.REGISTRAR})


@dataclass(frozen=True)
class Actor:
    """The person behind a request, with the expeditions they belong to (by id)."""

    user_id: int
    username: str
    roles: frozenset[Role]
    member_of: frozenset[int]
    leads: frozenset[int] = frozenset()

    @property
    def is_admin(self) -> bool:
        return Role.ADMIN in self.roles

    def has_any(self, *roles: Role) -> bool:
        return bool(self.roles.intersection(roles))

    def reads_every_expedition(self) -> bool:
        return bool(self.roles & MUSEUM_WIDE_READERS)

    def may_read(self, expedition_id: int) -> bool:
        return self.reads_every_expedition() or expedition_id in self.member_of

    def may_record(self, expedition_id: int) -> bool:
        """Field records come from the expedition's own team; an admin may act for anyone."""
        if self.is_admin:
            return True
        return Role.RECORDER in self.roles and expedition_id in self.member_of

    def may_upload_photos(self) -> bool:
        """Photo files come with field records: whoever records for some expedition sends them."""
        return self.is_admin or (Role.RECORDER in self.roles and bool(self.member_of))

    def may_manage_team(self, expedition_id: int) -> bool:
        return self.is_admin or expedition_id in self.leads

    def may_review(self) -> bool:
        """Approve, reject, correct, merge and dismiss: the history department's work."""
        return self.has_any(Role.ADMIN, Role.REVIEWER)

    def may_resolve_conflicts(self, expedition_id: int) -> bool:
        """Conflicting revisions are settled by a reviewer or by the expedition's leader."""
        return self.may_review() or expedition_id in self.leads


def parse_roles(values: list[str] | tuple[str, ...]) -> frozenset[Role]:
    """Turn role names into roles; raises ValueError naming the first unknown one."""
    roles = set()
    for value in values:
        try:
            roles.add(Role(value))
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise ValueError(f"unknown role {value!r} (known: {known})") from None
    return frozenset(roles)
