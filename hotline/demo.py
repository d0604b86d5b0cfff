"""`flask demo load --tickets N`: realistic tickets across Hainan's regions, departments, types and
states, over the last 90 days, with a consistent event history for each.

Rows are written with bulk inserts (no ORM unit of work), so 100,000 tickets load in well under a
minute. The state of each ticket is what replaying its events gives (hotline.service.MOVES).
"""

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select, update

from core.calendar import end_of_day, get_calendar, local_tz
from core.db import db, utcnow
from core.demo import advance_id_sequences, report_progress
from core.models import Department, Role, ServiceItem, User
from hotline import service
from hotline.demo_text import (
    CHANNEL_WEIGHTS,
    LEADERS,
    REGION_CENTRES,
    TOPICS,
    TYPE_WEIGHTS,
    Topic,
    address,
    caller_name,
    mobile,
    reply_text,
)
from hotline.models import (
    Channel,
    Ticket,
    TicketCounter,
    TicketEvent,
    TicketStatus,
    TicketType,
    Urgency,
    ticket_assists,
)

DAYS_BACK = 90
CHUNK = 5000
STAGES = ("accepted", "dispatched", "taken", "in_progress", "closed", "called_back", "archived")
MAIN_PATH = ("dispatch", "take", "handle", "reply", "callback", "archive")
# Hours between one move and the next: (shortest, longest).
GAPS = {
    "dispatch": (0.02, 0.5),
    "take": (0.2, 20),
    "handle": (0.5, 24),
    "reply": (2, 150),
    "callback": (20, 50),
    "archive": (1, 72),
    "return": (1, 20),
    "request_extension": (10, 50),
    "approve_extension": (1, 20),
    "reject_extension": (1, 20),
    "reopen": (24, 72),
    "supervise": (1, 30),
    "merge": (0.05, 2),
}
# The columns of a ticket no move has changed yet.
UNTOUCHED: dict[str, Any] = {
    "dispatched_at": None,
    "taken_at": None,
    "taken_by_id": None,
    "reply": "",
    "closed_at": None,
    "called_back_at": None,
    "archived_at": None,
    "supervised_at": None,
    "extension_count": 0,
    "extension_requested_days": None,
    "reopen_count": 0,
    "merged_into_id": None,
    "version": 1,
}
AGENT_MOVES = {"dispatch", "callback", "archive", "reopen", "merge"}
MANAGER_MOVES = {"approve_extension", "reject_extension", "supervise"}


@dataclass
class Catalogue:
    """What the loader picks from: departments by region and kind, items, staff."""

    departments: dict[tuple[str, str], Department]
    items: dict[int, list[ServiceItem]]
    regions: list[str]
    agent_id: int | None
    manager_id: int | None
    handlers: dict[int, int] = field(default_factory=dict)  # department id -> a handler's id

    @classmethod
    def load(cls) -> "Catalogue":
        departments = {}
        for dept in db.session.scalars(select(Department).where(Department.active.is_(True))):
            departments[(dept.region_code, dept.code.rsplit("-", 1)[-1])] = dept
        items: dict[int, list[ServiceItem]] = defaultdict(list)
        for item in db.session.scalars(select(ServiceItem).where(ServiceItem.active.is_(True))):
            items[item.department_id].append(item)
        staff = list(db.session.scalars(select(User).where(User.active.is_(True))))
        first = {role: next((u.id for u in staff if u.role == role), None) for role in (Role.AGENT, Role.MANAGER)}
        handlers = {u.department_id: u.id for u in staff if u.role == Role.HANDLER and u.department_id}
        regions = sorted({region for region, _ in departments})
        return cls(departments, items, regions, first[Role.AGENT], first[Role.MANAGER], handlers)


class Deadlines:
    """compute_deadlines with the working-day arithmetic memoised by (day, days)."""

    def __init__(self) -> None:
        self.calendar = get_calendar()
        self.memo: dict[tuple[date, int], datetime] = {}

    def after(self, moment: datetime, days: int) -> datetime:
        day = moment.astimezone(local_tz()).date()
        key = (day, days)
        if key not in self.memo:
            self.memo[key] = end_of_day(self.calendar.add_working_days(day, days))
        return self.memo[key]

    def initial(self, ticket_type: TicketType, urgency: Urgency, moment: datetime) -> tuple[datetime, datetime]:
        from flask import current_app

        config = current_app.config
        days = config["TICKET_HANDLE_WORKING_DAYS"][ticket_type.value]
        if urgency == Urgency.EMERGENCY:
            minutes, hours = config["TICKET_TAKE_MINUTES_EMERGENCY"], config["TICKET_HANDLE_HOURS_EMERGENCY"]
            return moment + timedelta(minutes=minutes), moment + timedelta(hours=hours)
        if urgency == Urgency.UTILITIES:
            return moment + timedelta(minutes=config["TICKET_TAKE_MINUTES_UTILITIES"]), self.after(moment, days)
        return self.after(moment, config["TICKET_TAKE_WORKING_DAYS"]), self.after(moment, days)


def _created_times(count: int, rng: random.Random, now: datetime) -> list[datetime]:
    """Call times over the last 90 days, busiest in office hours, in ascending order."""
    tz = local_tz()
    today = now.astimezone(tz).date()
    hours = list(range(24))
    weights = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 14, 10, 12, 15, 15, 14, 12, 9, 7, 5, 4, 2, 1]
    times = []
    for _ in range(count):
        day = today - timedelta(days=rng.randrange(DAYS_BACK))
        hour = rng.choices(hours, weights)[0]
        local = datetime(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), tzinfo=tz)
        times.append(min(local, now - timedelta(minutes=1)))
    return sorted(times)


def _stage(rng: random.Random, ratio: float) -> str:
    """How far a ticket got, given how much of its handling time has passed."""
    if ratio < 0.05:
        weights = [5, 45, 25, 15, 10, 0, 0]
    elif ratio < 1:
        weights = [1, 8, 12, 30, 25, 12, 12]
    else:
        weights = [0, 1, 1, 4, 6, 10, 78]
    return rng.choices(STAGES, weights)[0]


def _path(rng: random.Random, stage: str, has_phone: bool, overdue: bool) -> list[str]:
    """The moves after 受理 that lead to the chosen stage, with the side paths now and then."""
    moves = list(MAIN_PATH[: STAGES.index(stage)])
    if not has_phone and "callback" in moves:
        moves.remove("callback")
    if moves and rng.random() < 0.04:
        moves[1:1] = ["return", "dispatch"]  # 退单 and dispatched again elsewhere
    if "reply" in moves and "callback" in moves and rng.random() < 0.04:
        at = moves.index("callback") + 1
        moves[at:at] = ["reopen", "take", "handle", "reply"]  # 重办
    if "handle" in moves and rng.random() < 0.06:
        at = moves.index("handle") + 1
        moves[at:at] = ["request_extension", rng.choice(["approve_extension"] * 4 + ["reject_extension"])]
    if overdue and stage in ("dispatched", "taken", "in_progress") and rng.random() < 0.7:
        moves.append("supervise")
    return moves


NOTES = {
    "take": "",
    "handle": "已安排工作人员核查处理",
    "return": "经核实不属于本单位职责范围，请重新派单",
    "approve_extension": "同意延期",
    "reject_extension": "不同意延期，请按期办结",
    "supervise": "超期督办 overdue",
    "reopen": "来电人对处理结果不满意，要求重办",
    "callback": "已回访，来电人表示认可",
    "archive": "",
    "merge": "重复来电，并入原工单",
}


@dataclass
class Builder:
    """Makes one ticket's row and events; ids and numbers are handed out by the caller."""

    rng: random.Random
    catalogue: Catalogue
    deadlines: Deadlines
    now: datetime
    topic_weights: list[int]
    repeat_callers: list[tuple[str, str]]

    def ticket(self, ticket_id: int, number: str, moment: datetime, first_id: int) -> tuple[dict[str, Any], list[Any]]:
        rng = self.rng
        topic = rng.choices(TOPICS, self.topic_weights)[0]
        region = rng.choice(self.catalogue.regions)
        lead = self.catalogue.departments.get((region, topic.department))
        row = self._row(ticket_id, number, moment, topic, region, lead)
        events = self._history(row, topic, lead, first_id) if lead is not None else [self._created(row)]
        return row, events

    def _row(
        self, ticket_id: int, number: str, moment: datetime, topic: Topic, region: str, lead: Department | None
    ) -> dict[str, Any]:
        rng = self.rng
        channel = rng.choices(list(CHANNEL_WEIGHTS), list(CHANNEL_WEIGHTS.values()))[0]
        items = self.catalogue.items.get(lead.id, []) if lead else []
        item = rng.choice(items) if items and rng.random() < 0.6 else None
        where, place = address(rng, lead.region.name if lead else "")
        name, phone = self._caller()
        take_due, handle_due = self.deadlines.initial(topic.type, topic.urgency, moment)
        centre = REGION_CENTRES.get(region)
        located = centre is not None and rng.random() < 0.5
        text = topic.text.format(
            place=place, amount=rng.randrange(200, 30000), days=rng.randrange(2, 8), item=item.name if item else "业务"
        )
        return {
            "id": ticket_id,
            "number": number,
            "type": topic.type,
            "urgency": topic.urgency,
            "channel": channel,
            "is_enterprise": rng.random() < topic.enterprise,
            "confidential": rng.random() < 0.04,
            "caller_name": name,
            "caller_phone": phone,
            "leader_name": rng.choice(LEADERS) if channel == Channel.LEADER_DAY else "",
            "content": ("市民来电反映：" if channel == Channel.PHONE else "") + text,
            "region_code": region,
            "address": where,
            "latitude": centre[0] + rng.uniform(-0.05, 0.05) if located and centre else None,
            "longitude": centre[1] + rng.uniform(-0.05, 0.05) if located and centre else None,
            "service_item_id": item.id if item else None,
            "category": item.category if item else "",
            "lead_department_id": None,
            "status": TicketStatus.ACCEPTED,
            "take_due_at": take_due,
            "handle_due_at": handle_due,
            "deadline_estimated": False,
            "created_at": moment,
            "updated_at": moment,
            "created_by_id": self.catalogue.agent_id if channel in (Channel.PHONE, Channel.LEADER_DAY) else None,
            **UNTOUCHED,
        }

    def _caller(self) -> tuple[str, str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            return "", ""  # an anonymous web message
        if roll < 0.18:
            return rng.choice(self.repeat_callers)  # callers who call again: duplicates to catch
        return caller_name(rng), mobile(rng)

    def _created(self, row: dict[str, Any]) -> dict[str, Any]:
        return self._event(row, "create", None, row["created_at"], self.catalogue.agent_id, "")

    def _event(
        self, row: dict[str, Any], move: str, before: Any, at: datetime, actor: int | None, note: str, dept: Any = None
    ) -> dict[str, Any]:
        return {
            "ticket_id": row["id"],
            "move": move,
            "from_status": before,
            "to_status": row["status"],
            "actor_id": actor,
            "department_id": row["lead_department_id"] or dept,
            "note": note,
            "created_at": at,
        }

    def _moves(self, row: dict[str, Any], first_id: int) -> list[str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.03 and row["id"] > first_id:
            return rng.choice([["merge"], ["dispatch", "merge"]])  # 并单 into an earlier ticket
        if roll < 0.05:
            return ["dispatch", "return"]  # waiting to be dispatched again
        span = (row["handle_due_at"] - row["created_at"]).total_seconds()
        ratio = (self.now - row["created_at"]).total_seconds() / max(span, 1)
        return _path(rng, _stage(rng, ratio), bool(row["caller_phone"]), self.now > row["handle_due_at"])

    def _times(self, row: dict[str, Any], moves: list[str]) -> list[datetime]:
        """When each move happened: plausible gaps, squeezed to end before now."""
        start = row["created_at"]
        times, at = [], start
        for move in moves:
            if move == "supervise":
                at = max(at, row["handle_due_at"]) + timedelta(hours=self.rng.uniform(*GAPS[move]))
            else:
                at += timedelta(hours=self.rng.uniform(*GAPS[move]))
            times.append(at)
        if times and times[-1] >= self.now:
            scale = (self.now - start) * 0.98 / (times[-1] - start)
            times = [start + (t - start) * scale for t in times]
        return times

    def _history(self, row: dict[str, Any], topic: Topic, lead: Department, first_id: int) -> list[Any]:
        moves = self._moves(row, first_id)
        events = [self._created(row)]
        for move, at in zip(moves, self._times(row, moves), strict=True):
            before, dept_before = row["status"], row["lead_department_id"]
            note = self._apply(row, move, at, lead, first_id, "return" in moves)
            target = service.MOVES[move].target
            if target is not None:
                row["status"] = target
            row["updated_at"] = at
            events.append(self._event(row, move, before, at, self._actor(move, row, dept_before), note, dept_before))
        return events

    def _actor(self, move: str, row: dict[str, Any], dept_before: int | None) -> int | None:
        if move in AGENT_MOVES:
            return self.catalogue.agent_id
        if move in MANAGER_MOVES:
            return self.catalogue.manager_id if move != "supervise" or self.rng.random() < 0.3 else None
        return self.catalogue.handlers.get(row["lead_department_id"] or dept_before or 0)

    def wrong_department(self, lead: Department) -> Department:
        kinds = [k for (region, k) in self.catalogue.departments if region == lead.region_code]
        kind = self.rng.choice([k for k in kinds if not lead.code.endswith(k)] or kinds)
        return self.catalogue.departments[(lead.region_code, kind)]

    def _apply(
        self, row: dict[str, Any], move: str, at: datetime, lead: Department, first_id: int, bounce: bool
    ) -> str:
        """Change the row as the service would for this move; returns the event's note."""
        rng = self.rng
        if move == "dispatch":
            dept = self.wrong_department(lead) if bounce and row["dispatched_at"] is None else lead
            row.update(lead_department_id=dept.id, dispatched_at=at)
            return f"派至{dept.name}"
        if move == "take":
            row.update(taken_at=at, taken_by_id=self.catalogue.handlers.get(row["lead_department_id"]))
        elif move == "reply":
            row.update(reply=reply_text(rng), closed_at=at)
        elif move == "callback":
            row["called_back_at"] = at
        elif move == "archive":
            row["archived_at"] = at
        elif move == "return":
            row.update(lead_department_id=None, taken_at=None, taken_by_id=None)
        elif move == "request_extension":
            row["extension_requested_days"] = days = rng.randrange(3, 11)
            return f"+{days}: 涉及多个部门，需要协调现场核查"
        elif move == "approve_extension":
            days = row["extension_requested_days"]
            row.update(handle_due_at=self.deadlines.after(row["handle_due_at"], days), extension_count=1)
            row["extension_requested_days"] = None
        elif move == "reject_extension":
            row["extension_requested_days"] = None
        elif move == "supervise":
            row["supervised_at"] = at
        elif move == "reopen":
            take_due, handle_due = self.deadlines.initial(row["type"], row["urgency"], at)
            row.update(take_due_at=take_due, handle_due_at=handle_due, dispatched_at=at, reopen_count=1)
            row.update(closed_at=None, called_back_at=None, taken_at=None, taken_by_id=None, supervised_at=None)
        elif move == "merge":
            row["merged_into_id"] = rng.randrange(max(first_id, row["id"] - 300), row["id"])
        return NOTES.get(move, "")


def _numbers(moments: list[datetime]) -> tuple[list[str], dict[date, int]]:
    """Readable numbers per local day, continuing each day's counter."""
    last = {row.day: row.last for row in db.session.scalars(select(TicketCounter))}
    before = dict(last)
    tz = local_tz()
    numbers = []
    for moment in moments:
        day = moment.astimezone(tz).date()
        last[day] = last.get(day, 0) + 1
        numbers.append(service.format_number(day, last[day]))
    for day, value in last.items():
        if day in before:
            db.session.execute(update(TicketCounter).where(TicketCounter.day == day).values(last=value))
        else:
            db.session.execute(insert(TicketCounter).values(day=day, last=value))
    return numbers, last


def load_tickets(count: int, rng: random.Random) -> int:
    """Bulk-load `count` tickets with their events (the demo loader of `flask demo load`)."""
    catalogue = Catalogue.load()
    if not catalogue.departments:
        return 0
    now = utcnow()
    moments = _created_times(count, rng, now)
    numbers, _ = _numbers(moments)
    first_id = (db.session.scalar(select(func.max(Ticket.id))) or 0) + 1
    pool = [(caller_name(rng), mobile(rng)) for _ in range(max(20, count // 50))]
    builder = Builder(rng, catalogue, Deadlines(), now, [TYPE_WEIGHTS[t.type] for t in TOPICS], pool)
    for start in range(0, count, CHUNK):
        tickets, events, assists = [], [], []
        for offset in range(start, min(start + CHUNK, count)):
            row, history = builder.ticket(first_id + offset, numbers[offset], moments[offset], first_id)
            tickets.append(row)
            events.extend(history)
            lead = db.session.get(Department, row["lead_department_id"]) if row["lead_department_id"] else None
            if lead is not None and rng.random() < 0.05:
                assists.append({"ticket_id": row["id"], "department_id": builder.wrong_department(lead).id})
        db.session.execute(insert(cast(Table, Ticket.__table__)), tickets)
        db.session.execute(insert(cast(Table, TicketEvent.__table__)), events)
        if assists:
            db.session.execute(insert(ticket_assists), assists)
        report_progress(len(tickets))
    _after_bulk_load()
    db.session.commit()
    return count


def _after_bulk_load() -> None:
    """Advance PostgreSQL's id sequence past the explicit ids (core.demo runs ANALYZE at the end)."""
    advance_id_sequences("tickets")
