"""The demo's shelf noise: a shop's stock count is wrong for some lines when the packer gets there.

A stream of its own (seeded from the day's seed), so a day with noise differs from the same day
without it only where a shelf came up short.
"""

from __future__ import annotations

import numpy as np


class ShelfNoise:
    def __init__(self, *, share: float, seed: int) -> None:
        self.share = share
        self.rng = np.random.default_rng(seed)

    def pick(self, lines: dict[str, int]) -> dict[str, int] | None:
        """What the shelf gives for each line, or None when every line is there in full.

        A short line gives between none and all but one of the units asked for.
        """
        picked = {}
        for sku, quantity in sorted(lines.items()):
            if self.share > 0 and self.rng.random() < self.share:
                picked[sku] = int(self.rng.integers(0, quantity))
        return picked or None
