"""Label scales: one value type, read in every spelling moodflow meets, printed in one.

Datasets and papers write a scale as ``1-9``, ``1..9``, ``1–9``, ``-1..1``, ``−1..1`` or
``[1, 9]``; :class:`Scale` parses them all and prints one spelling (``1-9``, ``0-1``, and
``-1..1`` where the low end is negative, so that its minus signs cannot be misread), so a
report says the same whichever the data came with.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

_NUMBER = r"-?\d+(?:\.\d+)?"
_TEXT = re.compile(rf"\s*({_NUMBER})\s*(?:\.\.|-)\s*({_NUMBER})\s*")


class Scale(NamedTuple):
    """The (low, high) range of a regression target; a tuple, so ``Scale(1, 9) == (1.0, 9.0)``."""

    low: float
    high: float

    @classmethod
    def parse(cls, value: Any, key: str = "label scale") -> "Scale | None":
        """``[lo, hi]``, ``(lo, hi)``, ``"lo..hi"`` or ``"lo-hi"`` (en dash and minus sign too) as a
        Scale; None, ``""`` and ``[]`` as None (no scale). A ValueError names ``key`` otherwise."""
        if value is None or (isinstance(value, (str, list, tuple)) and len(value) == 0):
            return None
        parts = value
        if isinstance(value, str):
            match = _TEXT.fullmatch(value.replace("−", "-").replace("–", "-"))
            if not match:
                raise ValueError(f"{key}: {value!r} is not a label scale; write [low, high], 'low..high' or 'low-high'")
            parts = match.groups()
        try:
            low, high = (float(v) for v in parts)
        except (TypeError, ValueError):
            raise ValueError(f"{key}: {value!r} is not a label scale; write [low, high], 'low..high' or 'low-high'") from None
        if not (math.isfinite(low) and math.isfinite(high)):
            raise ValueError(f"{key}: {value!r}: a scale's ends are finite numbers")
        if not low < high:
            raise ValueError(f"{key}: low {low:g} must be below high {high:g}")
        return cls(low, high)

    @property
    def width(self) -> float:
        return self.high - self.low

    def __str__(self) -> str:
        sep = ".." if self.low < 0 else "-"
        return f"{self.low:g}{sep}{self.high:g}"


def scale_text(value: Any) -> str:
    """The one spelling of a scale given in any form (:meth:`Scale.parse`); ``""`` for none."""
    scale = Scale.parse(value)
    return str(scale) if scale is not None else ""
