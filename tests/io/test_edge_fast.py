"""The hot user-channel edge (:func:`edge.user_events`, :func:`edge.order_event`, :func:`edge.trade_event`,
and the runtime's fused decode :func:`edge.user_frame_decoder`) gives exactly what the straightforward
reference below gives (the code before the fast rewrite: keyword construction, ``Identity.owns``,
``Trade.maker_side``, enum calls by value), on random wire models with owners and maker addresses drawn
around aqbot's identity (case variants, missing sides, both tokens)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from unittest import mock

import attrs
from hypothesis import given
from hypothesis import strategies as st

from aqbot.core import events as ce
from aqbot.core.types import OrderType, Side
from aqbot.io import edge
from aqbot.wire.codec import decode_user_frame, encode_user_frame
from aqbot.wire.events import OrderEvent, UnknownEvent
from aqbot.wire.orders import MakerOrder, Trade
from aqbot.wire.types import ControlFrame, OrderEventType, TraderSide, TradeStatus

ME = edge.Identity(api_key="key-me", maker_address="0xAbCd")


def _ref_order_event(event: OrderEvent) -> ce.OrderEvent:
    return ce.OrderEvent(
        order_id=event.id.lower(),
        token=event.asset_id,
        side=event.side,
        price=event.price,
        original_size=event.original_size,
        size_matched=event.size_matched,
        status=event.status,
        type=ce.OrderEventType(event.type.value),
        order_type=event.order_type or OrderType.GTC,
        expiration=float(event.expiration or 0),
        timestamp=0.0 if event.timestamp is None else event.timestamp / 1000.0,
    )


def _ref_trade_event(trade: Trade, me: edge.Identity) -> ce.TradeEvent:
    makers = tuple(
        ce.MakerFill(
            order_id=m.order_id.lower(),
            matched_amount=m.matched_amount,
            price=m.price,
            token=m.asset_id,
            owner=m.owner,
            maker_address=m.maker_address,
            side=trade.maker_side(m),
        )
        for m in trade.maker_orders
        if me.owns(m.owner, m.maker_address)
    )
    return ce.TradeEvent(
        trade_id=trade.id,
        status=ce.TradeStatus(trade.status.value),
        taker_order_id=trade.taker_order_id.lower(),
        token=trade.asset_id,
        side=trade.side,
        size=trade.size,
        price=trade.price,
        trader_side="TAKER" if trade.trader_side is TraderSide.TAKER else "MAKER",
        maker_orders=makers,
        match_time=float(trade.match_time),
    )


def _ref_user_events(events: Sequence[object], me: edge.Identity) -> list[ce.OrderEvent | ce.TradeEvent]:
    out: list[ce.OrderEvent | ce.TradeEvent] = []
    for event in events:
        if isinstance(event, OrderEvent):
            out.append(_ref_order_event(event))
        elif isinstance(event, Trade):
            out.append(_ref_trade_event(event, me))
    return out


ids = st.sampled_from(["0xAB12", "0xab12", "t-1", ""])
tokens = st.sampled_from(["111", "222"])
decimals = st.sampled_from([Decimal("0.5"), Decimal("10.00"), Decimal(0), Decimal("0E-8")])
owners = st.sampled_from(["key-me", "KEY-ME", "other", ""])
addresses = st.sampled_from(["0xAbCd", "0xabcd", "0xABCD", "0xother"])
opt_ints = st.none() | st.integers(0, 10**14 - 1)

orders = st.builds(
    OrderEvent,
    type=st.sampled_from(OrderEventType),
    id=ids,
    market=st.just("0xm"),
    asset_id=tokens,
    side=st.sampled_from(Side),
    price=decimals,
    original_size=decimals,
    size_matched=decimals,
    order_type=st.none() | st.sampled_from(OrderType),
    status=st.sampled_from(["LIVE", "MATCHED", "CANCELED_x"]),
    expiration=opt_ints,
    timestamp=opt_ints,
)
makers = st.builds(
    MakerOrder,
    order_id=ids,
    owner=owners,
    maker_address=addresses,
    matched_amount=decimals,
    price=decimals,
    asset_id=tokens,
    side=st.none() | st.sampled_from(Side),
)
trades = st.builds(
    Trade,
    id=ids,
    taker_order_id=ids,
    market=st.just("0xm"),
    asset_id=tokens,
    side=st.sampled_from(Side),
    size=decimals,
    price=decimals,
    status=st.sampled_from(TradeStatus),
    match_time=st.integers(0, 10**11 - 1),
    trader_side=st.sampled_from(TraderSide),
    maker_orders=st.lists(makers, max_size=4).map(tuple),
)
others = st.sampled_from([UnknownEvent(event_type="x", raw={}), ControlFrame(text="PONG"), "text", None])
frames = st.lists(orders | trades | others, max_size=4)
identities = st.builds(edge.Identity, api_key=owners, maker_address=addresses)


@given(frames, identities)
def test_user_events_match_the_reference(events: list[object], me: edge.Identity) -> None:
    got = edge.user_events(events, me)
    want = _ref_user_events(events, me)
    assert got == want
    assert [repr(e) for e in got] == [repr(e) for e in want]  # Decimal digits, enum members, float values


def test_the_reference_keeps_own_makers_only() -> None:
    """Evidence that the generated trades exercise the ownership filter both ways."""
    mine = MakerOrder(
        order_id="0xA",
        owner="x",
        maker_address="0xABCD",
        matched_amount=Decimal(1),
        price=Decimal(1),
        asset_id="1",
    )
    theirs = MakerOrder(
        order_id="0xB",
        owner="y",
        maker_address="0xEF",
        matched_amount=Decimal(1),
        price=Decimal(1),
        asset_id="2",
    )
    tr = Trade(
        id="t",
        taker_order_id="0xT",
        market="m",
        asset_id="1",
        side=Side.BUY,
        size=Decimal(1),
        price=Decimal(1),
        status=TradeStatus.MATCHED,
        match_time=1,  # type: ignore[arg-type]
        trader_side=TraderSide.MAKER,
        maker_orders=(mine, theirs),
    )
    (event,) = edge.user_events([tr], ME)
    assert isinstance(event, ce.TradeEvent)
    assert [(m.order_id, m.side) for m in event.maker_orders] == [("0xa", Side.SELL)]


def test_user_events_pass_core_events_through() -> None:
    """A frame decoded by the fused ``user_frame_events`` (core events) takes the same route unchanged."""
    order = OrderEvent(
        type=OrderEventType.UPDATE,
        id="0xAB",
        market="0xm",
        asset_id="111",
        side=Side.BUY,
        price=Decimal("0.5"),
        original_size=Decimal(10),
        size_matched=Decimal(0),
        status="LIVE",
    )
    core = edge.user_events([order], ME)
    assert edge.user_events([*core, ControlFrame(text="PONG")], ME) == core
    assert edge.user_events(core, ME)[0] is core[0]


@given(st.lists(orders | trades, max_size=3), identities)
def test_the_fused_decoder_matches_the_reference(models: list[OrderEvent | Trade], me: edge.Identity) -> None:
    """The runtime's user-channel decode (:func:`edge.user_frame_decoder`: typed structs straight to core
    events) of the frame these models encode to gives this module's reference events of the decoded models,
    and their newest message timestamp (the WS lag gauge's input), on the typed route (never falling back to
    the reference decoder for these frames)."""
    text = encode_user_frame(models[0] if len(models) == 1 else models)
    decoded = decode_user_frame(text)
    with mock.patch.object(edge, "_reference_frame", side_effect=AssertionError("fell back")):
        frame = edge.user_frame_decoder(me)(text)
    assert type(frame) is edge.UserFrame
    want = _ref_user_events(decoded, me)
    assert list(frame) == want
    assert [repr(e) for e in frame] == [repr(e) for e in want]
    for event in [*frame, *(m for e in frame if isinstance(e, ce.TradeEvent) for m in e.maker_orders)]:
        # built without the constructor: exactly the fields, in order, like the constructor's
        assert list(vars(event)) == [a.name for a in attrs.fields(type(event))]
        assert list(vars(event).items()) == list(vars(attrs.evolve(event)).items())
    stamps = [m.timestamp for m in decoded if isinstance(m, OrderEvent | Trade) and m.timestamp is not None]
    assert frame.newest_ms == max(stamps, default=None)
