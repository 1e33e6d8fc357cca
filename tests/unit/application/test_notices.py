"""Notices travel through the outbox as JSON and come back equal; anything else is refused."""

from __future__ import annotations

import dataclasses
import json
import typing
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from application.notices import AccessGranted, Notice, decode_notice, encode_notice, notice_kinds
from domain.errors import InvalidValue
from domain.money import Currency, Money
from tests.property.support import deterministic

money = st.builds(Money, st.integers(-(2**62), 2**62), st.sampled_from([Currency("RUB"), Currency("USD")]))
times = st.datetimes(timezones=st.just(UTC)) | st.datetimes(timezones=st.just(timezone(timedelta(hours=3))))
text = st.text(max_size=50)
_FOR = {"str": text, "int": st.integers(-(2**53), 2**53), "bool": st.booleans(), "Money": money, "datetime": times}


def notices() -> st.SearchStrategy[Notice]:
    def build(cls: type[Notice]) -> st.SearchStrategy[Notice]:
        hints = typing.get_type_hints(cls)
        fields = {f.name: _FOR[getattr(hints[f.name], "__name__", "str")] for f in dataclasses.fields(cls)}
        return st.builds(cls, **fields)

    return st.one_of([build(cls) for cls in notice_kinds().values()])


@deterministic(300)
@given(notices())
def test_every_notice_round_trips_through_json(notice: Notice) -> None:
    assert decode_notice(json.loads(json.dumps(encode_notice(notice)))) == notice


def test_a_naive_time_cannot_be_queued() -> None:
    with pytest.raises(InvalidValue):
        encode_notice(AccessGranted(title="t", link="l", expires=datetime(2026, 1, 1)))


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {"kind": "access.granted"},
        {"kind": "no.such.kind", "data": {}},
        {"kind": "access.granted", "data": {"title": "t", "link": "l"}},
        {"kind": "access.granted", "data": {"title": 1, "link": "l", "expires": "2026-01-01T00:00:00+00:00"}},
        {"kind": "referrer.credited", "data": {"amount": None, "balance": {"minor": 1, "currency": "RUB"}}},
    ],
)
def test_malformed_payloads_are_refused(payload: object) -> None:
    with pytest.raises(InvalidValue):
        decode_notice(payload)


def test_kinds_are_unique_and_registered() -> None:
    kinds = notice_kinds()
    assert all(kind == cls.KIND for kind, cls in kinds.items())
    assert "access.granted" in kinds
