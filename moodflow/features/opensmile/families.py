"""LLD families of openSMILE's feature names: the groups feature importance is reported by.

A functional's name starts with its low-level descriptor (``mfcc_sma[3]_amean``,
``pcm_fftMag_spectralFlux_sma_de_quartile1``); the table maps each descriptor's prefix to its
family (first match wins).
"""

from __future__ import annotations

import re

_DESCRIPTOR = re.compile(r"^(?P<lld>.*?)_sma(?:3nz|3)?(?:_de)?(?P<index>\[\d+\])?(?:_de)?(?:_|$)")

FAMILIES: tuple[tuple[str, str], ...] = (
    ("mfcc", "MFCC"),
    ("audSpec_Rfilt", "RASTA auditory spectrum"),
    ("audspec", "loudness & energy"), ("pcm_RMSenergy", "loudness & energy"), ("loudness", "loudness & energy"), ("Loudness", "loudness & energy"),
    ("equivalentSoundLevel", "loudness & energy"),
    ("pcm_zcr", "zero-crossing rate"),
    ("F0", "pitch (F0)"),
    ("voicing", "voice quality"), ("jitter", "voice quality"), ("shimmer", "voice quality"),
    ("logHNR", "voice quality"), ("HNR", "voice quality"), ("logRelF0", "voice quality"),
    ("F1", "formants"), ("F2", "formants"), ("F3", "formants"),
    ("pcm_fftMag_fband", "spectral band energy"),
    ("pcm_fftMag", "spectral shape"), ("alphaRatio", "spectral shape"), ("hammarberg", "spectral shape"),
    ("slope", "spectral shape"), ("spectralFlux", "spectral shape"),
    ("MeanVoiced", "voiced segments"), ("MeanUnvoiced", "voiced segments"), ("StddevVoiced", "voiced segments"),
    ("StddevUnvoiced", "voiced segments"), ("VoicedSegments", "voiced segments"),
)


def lld_descriptor(name: str) -> str:
    """The low-level descriptor a functional summarises, its delta folded in:
    ``mfcc_sma_de[3]_amean`` → ``mfcc[3]``; a name with no ``_sma`` part is its own descriptor."""
    match = _DESCRIPTOR.match(name)
    return f"{match['lld']}{match['index'] or ''}" if match else name


def feature_group(name: str) -> str:
    """``family/descriptor`` of one openSMILE feature name (e.g. ``MFCC/mfcc[3]``)."""
    return f"{lld_family(name)}/{lld_descriptor(name)}"


def lld_family(name: str) -> str:
    """The family of one openSMILE feature name ("other" when no prefix matches)."""
    for prefix, family in FAMILIES:
        if name.startswith(prefix):
            return family
    return "other"
