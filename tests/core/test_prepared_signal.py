"""core.signals.Prepared: what a receiver worked out for an object before its write, kept until
the object is recorded, once, and never keeping an object alive."""

import gc

from core.signals import Prepared


class Thing:
    pass


def test_a_kept_value_is_taken_once():
    prepared: Prepared[int] = Prepared()
    thing, other = Thing(), Thing()
    prepared.keep(thing, 7)
    assert prepared.take(other) is None
    assert prepared.take(thing) == 7
    assert prepared.take(thing) is None


def test_an_object_whose_write_failed_takes_its_value_with_it():
    prepared: Prepared[str] = Prepared()
    thing = Thing()
    prepared.keep(thing, "payload")
    del thing
    gc.collect()
    assert len(prepared._held) == 0
