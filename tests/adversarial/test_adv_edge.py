"""Placement answers through the real edge (wire ``PostOrderResponse`` -> ``edge.placement_answer`` -> Core).

The core releases a reservation on a placement answer only when it *definitively* says the order does not
rest (DESIGN rule 2: ``success: false``, an empty order id, ``unmatched``); an answer that carries an order id
and ``success: true`` but is otherwise unrecognized must leave the order UNKNOWN (reserved).
"""

from __future__ import annotations

import pytest
from adv_helpers import LIMIT, YES, ZERO, D, oid, ready, worst

from aqbot.core.lifecycle import OrderState
from aqbot.core.types import Side
from aqbot.io import edge
from aqbot.wire.orders import PostOrderResponse


def _answer(core_order: str, response: PostOrderResponse) -> OrderState:
    core = ready()
    assert core.place(core_order, YES, Side.BUY, D("0.5"), D(10), 1.0).ok
    core.on_placement_answer(edge.placement_answer(core_order, response), 1.1)
    order = core.order(core_order)
    assert order is not None
    expected = ZERO if order.state is OrderState.REJECTED else LIMIT
    assert worst(core) == expected
    return order.state


@pytest.mark.parametrize(
    ("response", "state"),
    [
        (PostOrderResponse(success=True, order_id=oid(1), status="live"), OrderState.LIVE),
        (PostOrderResponse(success=True, order_id=oid(1), status="delayed"), OrderState.LIVE),
        (PostOrderResponse(success=False, error_msg="not enough balance / allowance"), OrderState.REJECTED),
        (
            PostOrderResponse(success=True, error_msg="invalid post-only order: crosses book"),
            OrderState.REJECTED,
        ),
        (PostOrderResponse(success=True, order_id=oid(1), status="unmatched"), OrderState.REJECTED),
    ],
)
def test_known_answers(response: PostOrderResponse, state: OrderState) -> None:
    assert _answer(oid(1), response) is state


@pytest.mark.parametrize(
    "response",
    [
        PostOrderResponse(success=True, order_id=oid(1), status="queued"),  # a status added after this code
        PostOrderResponse(success=True, order_id=oid(1), status="live", error_msg="order will rest at 0.50"),
    ],
)
def test_success_with_an_order_id_but_unrecognized_is_not_a_release(response: PostOrderResponse) -> None:
    """``success: true`` + the order's id: the exchange may well have it on the book. The core's own rule
    (``on_answer``: not definitive -> SUBMIT_UNKNOWN) would keep it reserved, but the edge hands the core
    ``success=is_accepted`` (False here), which the core reads as a definitive rejection and releases 10."""
    assert _answer(oid(1), response) is OrderState.UNKNOWN
