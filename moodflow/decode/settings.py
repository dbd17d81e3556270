"""The ``decode`` section of params.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Mapping

from moodflow.core.config import setting

DEFAULT_SAMPLE_RATE = 22050


@dataclass
class DecodeSettings:
    """``decode``: the one sample rate every track is decoded to, and what a bad file does.

    ``sample_rate: auto`` takes the rate the dataset's published features were computed at
    (its adapter's ``NATIVE_AUDIO``, recorded in the prepared dataset.json; PMEmo: 44.1 kHz)
    and 22.05 kHz where none is declared.
    """

    # Hz every track is decoded to; auto = the dataset's native rate
    sample_rate: int | Literal["auto"] = setting("auto", min=4000, max=384000)
    on_error: str = setting("skip", choices=("skip", "stop"))  # skip: listed in decode_errors.csv
    min_duration_s: float = setting(0.0, min=0.0, max=3600.0)  # shorter decoded tracks count as failed
    cache_dir: str = ".cache/moodflow"  # per-track decode cache (<cache_dir>/decode, git-ignored); "" = none


def resolve_sample_rate(sample_rate: int | str, info: Mapping[str, Any]) -> tuple[int, str]:
    """The decode rate for a prepared dataset's ``info`` and the reason, in words."""
    if sample_rate != "auto":
        return int(sample_rate), "decode.sample_rate"
    native = (info.get("native_audio") or {}).get("sample_rate")
    if native:
        return int(native), f"auto: the dataset's native rate ({info['native_audio'].get('why', 'declared')})"
    return DEFAULT_SAMPLE_RATE, "auto: no native rate declared, the default"
