"""engine.nn.branches: the Mamba branch's two spiral orders over a patch."""
from __future__ import annotations

from engine.nn.branches import spiral_order


def test_spiral_orders_end_on_centre_and_differ():
    for p in (3, 7, 11):
        cw, acw = spiral_order(p, True), spiral_order(p, False)
        assert sorted(cw) == sorted(acw) == list(range(p * p))
        assert cw[-1] == acw[-1] == (p * p) // 2
        assert cw != acw and cw[0] == acw[0] == 0
        # consecutive cells are grid neighbours
        for order in (cw, acw):
            assert all(abs(a // p - b // p) + abs(a % p - b % p) == 1 for a, b in zip(order, order[1:]))
