"""Wire -> core conversion at the edge: own maker entries, cross-asset sides, rejections, snapshots."""

from __future__ import annotations

from decimal import Decimal

from aqbot.core import events as ce
from aqbot.core.book import BookSnapshot, Level, LevelChange
from aqbot.core.book import TickSizeChange as CoreTick
from aqbot.core.types import OrderType, Side
from aqbot.io import edge
from aqbot.wire.account import Position
from aqbot.wire.events import OrderEvent, PriceChange, PriceChangeEvent, TickSizeChange
from aqbot.wire.market import BookSummary, PriceLevel
from aqbot.wire.orders import CancelResponse, MakerOrder, OpenOrder, PostOrderResponse, Trade
from aqbot.wire.types import OrderEventType, TraderSide, TradeStatus, UnixMs, UnixS

ME = edge.Identity(api_key="key-me", maker_address="0xAbCd")
YES, NO = "111", "222"
D = Decimal


def maker(
    order_id: str, owner: str, addr: str, asset: str, amount: str, side: Side | None = None
) -> MakerOrder:
    return MakerOrder(
        order_id=order_id,
        owner=owner,
        maker_address=addr,
        matched_amount=D(amount),
        price=D("0.4"),
        asset_id=asset,
        side=side,
    )


def trade(*makers: MakerOrder, trader_side: TraderSide = TraderSide.MAKER) -> Trade:
    return Trade(
        id="t-1",
        taker_order_id="0xTAKER",
        market="0xm",
        asset_id=YES,
        side=Side.BUY,
        size=D(10),
        price=D("0.6"),
        status=TradeStatus.MATCHED,
        match_time=UnixS(1700000000),
        trader_side=trader_side,
        maker_orders=makers,
    )


def test_trade_keeps_only_own_maker_entries_by_key_or_address() -> None:
    """Entries owned by our API key or our funder address (any case) are kept; others dropped."""
    t = trade(
        maker("0xA1", "key-me", "0xother", YES, "3"),
        maker("0xB2", "key-x", "0xABCD", YES, "4"),
        maker("0xC3", "key-x", "0xother", YES, "5"),
    )
    event = edge.trade_event(t, ME)
    assert [m.order_id for m in event.maker_orders] == ["0xa1", "0xb2"]
    assert event.taker_order_id == "0xtaker"
    assert event.status is ce.TradeStatus.MATCHED
    assert event.trader_side == "MAKER"
    assert event.match_time == 1700000000.0


def test_maker_side_inferred_same_and_cross_asset() -> None:
    """Same asset as the taker: opposite side. Complementary asset (BUY YES vs BUY NO): same side."""
    t = trade(maker("0xA1", "key-me", "", YES, "3"), maker("0xB2", "key-me", "", NO, "4"))
    sides = {m.order_id: (m.side, m.token) for m in edge.trade_event(t, ME).maker_orders}
    assert sides == {"0xa1": (Side.SELL, YES), "0xb2": (Side.BUY, NO)}


def test_explicit_maker_side_wins() -> None:
    """When the payload carries the maker's side it is used as is."""
    t = trade(maker("0xA1", "key-me", "", NO, "3", side=Side.SELL))
    assert edge.trade_event(t, ME).maker_orders[0].side is Side.SELL


def test_order_event_conversion() -> None:
    """Cumulative size_matched, raw status and ms timestamps survive; ids are lower-cased."""
    ev = OrderEvent(
        type=OrderEventType.CANCELLATION,
        id="0xABC",
        market="0xm",
        asset_id=YES,
        side=Side.BUY,
        price=D("0.5"),
        original_size=D(10),
        size_matched=D(4),
        status="CANCELED",
        order_type=OrderType.GTD,
        expiration=UnixS(1700000100),
        timestamp=UnixMs(1700000000500),
    )
    core = edge.order_event(ev)
    assert core == ce.OrderEvent(
        order_id="0xabc",
        token=YES,
        side=Side.BUY,
        price=D("0.5"),
        original_size=D(10),
        size_matched=D(4),
        status="CANCELED",
        type=ce.OrderEventType.CANCELLATION,
        order_type=OrderType.GTD,
        expiration=1700000100.0,
        timestamp=1700000000.5,
    )


def test_placement_answer_passes_the_leg_through_for_the_core_to_classify() -> None:
    """success: true with an empty orderID is a rejected leg (PROTOCOL 1.3); the core decides that from
    the empty id (tests/adversarial/test_adv_edge.py drives the answer into the core)."""
    leg = PostOrderResponse(success=True, error_msg="not enough balance", order_id="", status="")
    answer = edge.placement_answer("0xmine", leg)
    assert answer.success
    assert answer.returned_order_id == ""
    assert answer.error == "not enough balance"
    ok = edge.placement_answer("0xmine", PostOrderResponse(success=True, order_id="0xMINE", status="live"))
    assert ok.success
    assert ok.returned_order_id == "0xmine"


def test_cancel_answer_sorted_and_lowered() -> None:
    """The DELETE answer keeps both lists; not_canceled is sorted for determinism."""
    answer = edge.cancel_answer(
        CancelResponse(canceled=("0xA",), not_canceled={"0xC": "order not found", "0xB": "already canceled"})
    )
    assert answer == ce.CancelAnswer(("0xa",), (("0xb", "already canceled"), ("0xc", "order not found")))


def test_market_frame_to_book_events() -> None:
    """book -> snapshot, price_change -> one change per entry (both tokens), tick change passes through."""
    frame = [
        BookSummary(
            market="0xm",
            asset_id=YES,
            timestamp=UnixMs(1),
            bids=(PriceLevel(price=D("0.4"), size=D(10)),),
            asks=(PriceLevel(price=D("0.6"), size=D(5)),),
            tick_size=D("0.01"),
        ),
        PriceChangeEvent(
            market="0xm",
            timestamp=UnixMs(2),
            price_changes=(
                PriceChange(asset_id=YES, price=D("0.41"), size=D(3), side=Side.BUY, best_bid=D("0.41")),
                PriceChange(asset_id=NO, price=D("0.59"), size=D(3), side=Side.SELL),
            ),
        ),
        TickSizeChange(
            asset_id=NO, market="0xm", old_tick_size=D("0.01"), new_tick_size=D("0.001"), timestamp=UnixMs(3)
        ),
    ]
    assert edge.market_book_events(frame) == [
        BookSnapshot(YES, (Level(D("0.4"), D(10)),), (Level(D("0.6"), D(5)),), D("0.01")),
        LevelChange(YES, Side.BUY, D("0.41"), D(3), D("0.41"), None),
        LevelChange(NO, Side.SELL, D("0.59"), D(3), None, None),
        CoreTick(NO, D("0.001")),
    ]
    assert [edge.market_asset_of(e) for e in frame] == [YES, (YES, NO), NO]


def test_snapshot_keeps_every_open_order_row() -> None:
    """/data/orders rows are never filtered (a dropped row would read as 'not open' and release)."""
    row = OpenOrder(
        id="0xO",
        status="LIVE",
        market="0xm",
        asset_id=YES,
        side=Side.BUY,
        original_size=D(10),
        size_matched=D(0),
        price=D("0.4"),
    )
    snap = edge.orders_snapshot(5.0, [row], [trade()], ME, complete=True)
    assert [o.order_id for o in snap.open_orders] == ["0xo"]
    assert snap.started_at == 5.0
    assert len(snap.trades) == 1


def test_position_row() -> None:
    """A Data API row becomes (token, size, avg price)."""
    pos = Position(proxy_wallet="0x1", asset=YES, condition_id="0xm", size=D("12.5"), avg_price=D("0.41"))
    assert edge.position_row(pos) == ce.PositionRow(YES, D("12.5"), D("0.41"))
