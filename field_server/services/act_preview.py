"""What a registrar sees before an acceptance act is made: the expedition's approved finds to
choose from, and the numbers the chosen finds would get.

A preview writes nothing and reserves nothing: the numbers are given only when the act is
confirmed (services.register.create_act), so another registrar's act confirmed in between
takes the receipt number shown here and this act gets the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from field_server.adapters.repositories import ExpeditionRow
from field_server.adapters.unit_of_work import UnitOfWorkFactory
from field_server.domain.access import Actor
from field_server.domain.find_query import FindPage, FindQuery, FindSummary, choose_finds
from field_server.domain.find_status import (
    FindStatus,
    TransitionRefused,
    check_transition,
    parse_status,
)
from field_server.domain.register_numbers import (
    Fund,
    RegisterError,
    RegisterNumber,
    act_label,
    next_receipt,
    number_items,
    parse_fund,
)
from field_server.services import register
from field_server.services.errors import InvalidInput
from field_server.services.survey_view import expedition_for, find_summary


@dataclass(frozen=True)
class ApprovedFinds:
    expedition: ExpeditionRow
    page: FindPage


@dataclass(frozen=True)
class PreviewItem:
    number: RegisterNumber
    find: FindSummary
    refusal: str | None  # why the act would refuse this find, in the register's words


@dataclass(frozen=True)
class ActPreview:
    expedition: ExpeditionRow
    fund: Fund
    receipt: int
    items: list[PreviewItem]
    unknown: list[str]  # uuids that are no find of the expedition

    @property
    def label(self) -> str:
        return act_label(self.fund, self.receipt)

    @property
    def ready(self) -> bool:
        return not self.unknown and all(item.refusal is None for item in self.items)


def approved_finds(
    uow_factory: UnitOfWorkFactory, actor: Actor, code: str, query: FindQuery
) -> ApprovedFinds:
    """The expedition's approved finds, filtered, sorted and paged as the finds table is."""
    register.require_registrar(actor)
    with uow_factory() as uow:
        expedition = expedition_for(uow, actor, code)
        records = uow.finds.of_type("find", expedition.id)
    approved = [find_summary(r) for r in records if r.status == FindStatus.APPROVED.value]
    return ApprovedFinds(expedition, choose_finds(approved, replace(query, status="")))


def preview_act(
    uow_factory: UnitOfWorkFactory, actor: Actor, code: str, fund_text: str, uuids: list[str]
) -> ActPreview:
    """The numbers an act of ``uuids`` (in this order) would take if confirmed now."""
    register.require_registrar(actor)
    try:
        fund = parse_fund(fund_text)
    except RegisterError as error:
        raise InvalidInput(str(error), [{"field": "fund", "message": str(error)}]) from None
    chosen = list(dict.fromkeys(uuids))
    if not chosen:
        raise InvalidInput(
            "an act takes at least one find", [{"field": "find_uuids", "message": "is empty"}]
        )
    with uow_factory() as uow:
        expedition = expedition_for(uow, actor, code)
        receipt = next_receipt(uow.register.last_receipts()[fund.value])
        records = uow.records.finds_for_museum(chosen)
    unknown = [
        uuid
        for uuid in chosen
        if (r := records.get(uuid)) is None or r.type != "find" or r.expedition_id != expedition.id
    ]
    finds = [records[uuid] for uuid in chosen if uuid not in unknown]
    items = []
    numbers = number_items(fund, receipt, len(finds)) if finds else []
    for record, number in zip(finds, numbers, strict=True):
        refusal = None
        try:
            check_transition(parse_status(record.status), FindStatus.ACCESSIONED)
        except TransitionRefused as refused:
            refusal = str(refused)
        items.append(PreviewItem(number, find_summary(record), refusal))
    return ActPreview(expedition, fund, receipt, items, unknown)
