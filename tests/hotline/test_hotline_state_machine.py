"""Acceptance 2, as a property: whatever sequence of moves is tried, every illegal one is a 409
naming exactly the legal moves and writes nothing, every legal one writes exactly one event, and
replaying a ticket's events always gives its current state."""

from datetime import timedelta

import factories as f
import hotline_factories as hf
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from core.db import db
from core.errors import Conflict, NotFound
from core.models import Role
from hotline import service
from hotline.models import TicketEvent

MOVE_NAMES = sorted(service.MOVES)


def attempt_move(name: str, t, original: str, cast: dict, now) -> None:
    """Make one move as the role that may make it."""
    agent, handler, manager, code = cast["agent"], cast["handler"], cast["manager"], cast["dept"].code
    inputs = {
        "dispatch": (agent, {"department": code}),
        "merge": (agent, {"into": original}),
        "take": (handler, {}),
        "handle": (handler, {"note": "进展"}),
        "reply": (handler, {"reply": "答复内容"}),
        "return": (handler, {"reason": "不属于本单位"}),
        "request_extension": (handler, {"working_days": 3, "reason": "需要时间"}),
        "approve_extension": (manager, {}),
        "reject_extension": (manager, {}),
        "supervise": (manager, {}),
        "reopen": (None, {"note": "不满意"}),
        "callback": (agent, {}),
        "archive": (agent, {}),
    }
    actor, data = inputs[name]
    service.make_move(name, t, actor, data, now)


def make_machine(cast: dict) -> type[RuleBasedStateMachine]:
    """A state machine over one fresh ticket per run, with a cast of staff made once."""

    class TicketMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.now = hf.THURSDAY
            self.ticket = hf.ticket(cast["agent"], now=self.now)
            self.original = hf.ticket(cast["agent"], now=self.now)

        def call(self, name: str) -> None:
            attempt_move(name, self.ticket, self.original.number, cast, self.now)

        def events(self) -> list[TicketEvent]:
            stmt = select(TicketEvent).where(TicketEvent.ticket_id == self.ticket.id).order_by(TicketEvent.id)
            return list(db.session.scalars(stmt))

        @rule(name=st.sampled_from(MOVE_NAMES))
        def attempt(self, name: str) -> None:
            allowed = service.allowed_moves(self.ticket, self.now)
            before = len(self.events())
            try:
                self.call(name)
            except Conflict as error:
                assert name not in allowed
                assert error.errors["allowed"] == allowed
                assert len(self.events()) == before
            except NotFound:
                # A handler cannot even see a ticket their department does not lead (yet).
                assert name not in allowed
                assert self.ticket.lead_department_id != cast["dept"].id
                assert len(self.events()) == before
            else:
                assert name in allowed
                assert [e.move for e in self.events()][before:] == [name]

        @rule(hours=st.integers(min_value=1, max_value=24 * 20))
        def time_passes(self, hours: int) -> None:
            self.now += timedelta(hours=hours)

        @invariant()
        def replaying_events_gives_the_state(self) -> None:
            assert service.replay(self.events()) == self.ticket.status

    return TicketMachine


def test_any_sequence_of_moves_keeps_events_and_state_in_step(database):
    dept = f.department()
    cast = {
        "agent": f.user(Role.AGENT),
        "manager": f.user(Role.MANAGER),
        "dept": dept,
        "handler": f.user(Role.HANDLER, dept),
    }
    run_state_machine_as_test(
        make_machine(cast), settings=settings(max_examples=40, stateful_step_count=30, deadline=None)
    )
