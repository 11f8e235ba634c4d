"""One shopper across channels. A customer row is a shopper as one channel sees them (an openid
on the Official Account, another in the Mini Program, a visitor of the widget); the shop links
them into a person by its own user id, a unionid and the openids it knows (the shop-data API),
and a widget shopper the page signed as `u_<user id>` belongs to the person of that user id.

Links are lookups beside the customer rows: conversations, notes and tags stay on the row they
were made on, and the agent sees the union. Unlinking removes a lookup; nothing is lost.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, tuple_, update
from sqlalchemy.orm import Session

from bridge.customers.models import Person, PersonIdentity
from bridge.models import Channel, Customer

WIDGET_USER = "u_"  # adapters/widget/identity.py: an identified widget shopper's external id


class LinkConflict(Exception):
    """The identities name two people the shop told apart (two user ids, two unionids)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def link(session: Session, shop_id: int, spec: Mapping[str, Any], channels: Mapping[str, int],
         now: datetime) -> Person:
    """Make SPEC ({user_id, unionid, openids: {channel key: openid}}) one person: the people its
    ids already name are merged into one, unless they carry different user ids or unionids
    (LinkConflict). The caller commits."""
    pairs = [(channels[key], openid) for key, openid in spec.get("openids", {}).items()]
    found: dict[int, Person] = {}
    for clause in _finders(shop_id, spec, pairs):
        found.update((p.id, p) for p in session.scalars(select(Person).where(clause)))
    for field in ("user_id", "unionid"):
        values = {getattr(p, field) for p in found.values()} | ({spec[field]} if spec.get(field) else set())
        if len(values - {None}) > 1:
            raise LinkConflict(field, f"these ids belong to shoppers of different {field}s "
                               f"({', '.join(sorted(values - {None}))}); unlink first")
    keep = min(found.values(), key=lambda p: p.id) if found else None
    if keep is None:
        keep = Person(shop_id=shop_id, created_at=now)
        session.add(keep)
        session.flush()
    others = [p.id for p in found.values() if p.id != keep.id]
    # The ids the merged people carried pass to the kept one once they are gone (each is unique).
    carried = {field: spec.get(field) or next((getattr(p, field) for p in found.values() if getattr(p, field)), None)
               for field in ("user_id", "unionid")}
    if others:  # merged: their identities now name the kept one
        with session.no_autoflush:
            session.execute(update(PersonIdentity).where(PersonIdentity.shop_id == shop_id,
                                                         PersonIdentity.person_id.in_(others))
                            .values(person_id=keep.id))
            session.execute(delete(Person).where(Person.id.in_(others)).execution_options(synchronize_session=False))
        for p in found.values():
            if p.id in others:
                session.expunge(p)
    keep.user_id, keep.unionid = carried["user_id"], carried["unionid"]
    known = {(ch, ext) for ch, ext in session.execute(select(PersonIdentity.channel_id, PersonIdentity.external_id)
                                                      .where(PersonIdentity.shop_id == shop_id,
                                                             PersonIdentity.person_id == keep.id))}
    for channel_id, openid in pairs:
        if (channel_id, openid) not in known:
            session.add(PersonIdentity(shop_id=shop_id, channel_id=channel_id, external_id=openid,
                                       person_id=keep.id))
    session.flush()
    return keep


def _finders(shop_id: int, spec: Mapping[str, Any], pairs: list[tuple[int, str]]):
    if spec.get("user_id"):
        yield (Person.shop_id == shop_id) & (Person.user_id == spec["user_id"])
    if spec.get("unionid"):
        yield (Person.shop_id == shop_id) & (Person.unionid == spec["unionid"])
    if pairs:
        pair = tuple_(PersonIdentity.channel_id, PersonIdentity.external_id)
        yield Person.id.in_(select(PersonIdentity.person_id).where(PersonIdentity.shop_id == shop_id,
                                                                   pair.in_(pairs)))


def unlink(session: Session, shop_id: int, spec: Mapping[str, Any], channels: Mapping[str, int]) -> int:
    """Take the openids of SPEC out of their people, and the user id and unionid off theirs (a
    widget shopper signed with that user id stands alone again). How many links were removed."""
    removed = 0
    pairs = [(channels[key], openid) for key, openid in spec.get("openids", {}).items()]
    if pairs:
        removed += session.execute(delete(PersonIdentity).where(
            PersonIdentity.shop_id == shop_id,
            tuple_(PersonIdentity.channel_id, PersonIdentity.external_id).in_(pairs))).rowcount
    for field in ("user_id", "unionid"):
        if spec.get(field):
            removed += session.execute(update(Person).where(Person.shop_id == shop_id,
                                                            getattr(Person, field) == spec[field])
                                       .values({field: None})).rowcount
    return removed


def identities(session: Session, shop_id: int, customers: Sequence[Customer]) -> set[tuple[int, str]]:
    """Every (channel id, external id) the people of CUSTOMERS are known by — the rows that exist,
    the openids the shop linked (a shopper who has not written there yet) and, for a person with
    a user id, that user signed in on each widget channel — and the customers' own."""
    found = {(c.channel_id, c.external_id) for c in customers}
    kinds = _kinds(session, shop_id)
    people = list({p.id: p for p in _people(session, shop_id, customers, kinds).values()}.values())
    if not people:
        return found
    found.update((ch, ext) for ch, ext in session.execute(
        select(PersonIdentity.channel_id, PersonIdentity.external_id).where(
            PersonIdentity.shop_id == shop_id, PersonIdentity.person_id.in_([p.id for p in people]))))
    widgets = [ch for ch, kind in kinds.items() if kind == "widget"]
    found.update((ch, WIDGET_USER + p.user_id) for p in people if p.user_id for ch in widgets)
    return found


def customers_named(session: Session, shop_id: int, openids: Mapping[str, str],
                    user_id: str | None) -> list[Customer]:
    """The customer rows a buyer's ids name as the shop sends them: openids by channel key (those
    who wrote there), and the shop's user id signed in on any widget channel."""
    channels = {ch.key: ch for ch in session.scalars(select(Channel).where(Channel.shop_id == shop_id))}
    pairs = [(channels[key].id, openid) for key, openid in openids.items() if key in channels]
    widgets = [ch.id for ch in channels.values() if ch.kind == "widget"]
    clauses = [tuple_(Customer.channel_id, Customer.external_id).in_(pairs)] if pairs else []
    if user_id and widgets:
        clauses.append(Customer.channel_id.in_(widgets) & (Customer.external_id == WIDGET_USER + user_id))
    return [c for clause in clauses
            for c in session.scalars(select(Customer).where(Customer.shop_id == shop_id, clause))]


def shop_links(session: Session, shop_id: int) -> bool:
    """Whether the shop linked anyone: routing reads links only then."""
    return session.scalar(select(Person.id).where(Person.shop_id == shop_id).limit(1)) is not None


def linked(session: Session, customer: Customer) -> list[Customer]:
    """The customer rows of the person CUSTOMER is (CUSTOMER first), or CUSTOMER alone."""
    return linked_many(session, customer.shop_id, [customer])[customer.id]


def person_of(session: Session, customer: Customer) -> Person | None:
    return _people(session, customer.shop_id, [customer], _kinds(session, customer.shop_id)).get(customer.id)


def identity(session: Session, customer: Customer) -> tuple[list[Customer], Person | None, dict[int, str]]:
    """(the linked rows, CUSTOMER first; the person, if any; the shop's channel kinds by id), read once."""
    kinds = _kinds(session, customer.shop_id)
    person = _people(session, customer.shop_id, [customer], kinds).get(customer.id)
    rows = linked_many(session, customer.shop_id, [customer], kinds)[customer.id] if person else [customer]
    return rows, person, kinds


def linked_many(session: Session, shop_id: int, customers: Sequence[Customer],
                kinds: Mapping[int, str] | None = None) -> dict[int, list[Customer]]:
    """Each customer's linked rows, by customer id: a few queries for the whole list."""
    kinds = kinds if kinds is not None else _kinds(session, shop_id)
    people = _people(session, shop_id, customers, kinds)
    out: dict[int, list[Customer]] = {c.id: [c] for c in customers}
    if not people:
        return out
    person_ids = {p.id for p in people.values()}
    members: dict[int, list[Customer]] = {pid: [] for pid in person_ids}
    rows = session.execute(select(PersonIdentity.channel_id, PersonIdentity.external_id, PersonIdentity.person_id)
                           .where(PersonIdentity.shop_id == shop_id, PersonIdentity.person_id.in_(person_ids))).all()
    by_pair = {(ch, ext): pid for ch, ext, pid in rows}
    by_user = {WIDGET_USER + p.user_id: p.id for p in people.values() if p.user_id}
    widgets = [ch for ch, kind in kinds.items() if kind == "widget"]
    clauses = []
    if by_pair:
        clauses.append(tuple_(Customer.channel_id, Customer.external_id).in_(list(by_pair)))
    if by_user and widgets:
        clauses.append(Customer.channel_id.in_(widgets) & Customer.external_id.in_(list(by_user)))
    for clause in clauses:
        for c in session.scalars(select(Customer).where(Customer.shop_id == shop_id, clause)):
            pid = by_pair.get((c.channel_id, c.external_id)) or by_user.get(c.external_id)
            if pid is not None and c not in members[pid]:
                members[pid].append(c)
    for c in customers:
        if c.id in people:
            rest = sorted((m for m in members[people[c.id].id] if m.id != c.id), key=lambda m: m.id)
            out[c.id] = [c, *rest]
    return out


def _kinds(session: Session, shop_id: int) -> dict[int, str]:
    return {id_: kind for id_, kind in session.execute(select(Channel.id, Channel.kind)
                                                        .where(Channel.shop_id == shop_id))}


def _people(session: Session, shop_id: int, customers: Iterable[Customer],
            kinds: Mapping[int, str]) -> dict[int, Person]:
    """The person of each customer that has one, by customer id."""
    customers = list(customers)
    pairs = {(c.channel_id, c.external_id): c for c in customers}
    users = {c.external_id[len(WIDGET_USER):]: c for c in customers
             if kinds.get(c.channel_id) == "widget" and c.external_id.startswith(WIDGET_USER)}
    out: dict[int, Person] = {}
    if pairs:
        for person, ch, ext in session.execute(
                select(Person, PersonIdentity.channel_id, PersonIdentity.external_id)
                .join(PersonIdentity, PersonIdentity.person_id == Person.id)
                .where(PersonIdentity.shop_id == shop_id,
                       tuple_(PersonIdentity.channel_id, PersonIdentity.external_id).in_(list(pairs)))):
            out[pairs[(ch, ext)].id] = person
    if users:
        for person in session.scalars(select(Person).where(Person.shop_id == shop_id,
                                                           Person.user_id.in_(list(users)))):
            out.setdefault(users[person.user_id].id, person)
    return out
