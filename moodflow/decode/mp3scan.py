"""Counting the frames of an MPEG audio file (mp3) without decoding it.

A download cut short decodes silently as a shorter track when nothing declares the length:
libsndfile then reports what it decodes. The frame headers tell more: every frame announces
its own length, so a file that ends inside a frame was cut; an ID3 ``TLEN`` or a Xing/Info/
VBRI header (VBR files) declares the whole length; and the frames present bound what a
decoder must return. :func:`scan_mp3` reads those facts; ``moodflow.decode.audio`` checks them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

# kbit/s by [version is MPEG-1][layer] then bitrate index (0 = free format, 15 = invalid)
_BITRATES = {
    (True, 1): (0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
    (True, 2): (0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
    (True, 3): (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    (False, 1): (0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
    (False, 2): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
    (False, 3): (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


@dataclass
class Header:
    """One frame header: its length in bytes, samples and sample rate."""

    length: int
    samples: int
    sample_rate: int
    mpeg1: bool
    mono: bool


@dataclass
class Mp3Scan:
    """What the frames of a file say (durations in seconds)."""

    frames: int
    sample_rate: int
    duration_s: float  # of the frames present
    audio_start: int  # byte offset of the first frame
    ends_inside: str  # "frame" / "ID3 tag" when it announces more bytes than remain (cut short), else ""
    last_frame_needs: int = 0
    last_frame_has: int = 0
    declared_s: float | None = None  # Xing/Info/VBRI frame count or ID3 TLEN, when present
    declared_by: str = ""
    declared_bytes: int | None = None  # Xing/VBRI stream size, when present


def parse_header(data: bytes, pos: int) -> Header | None:
    """The frame header at ``pos``, or None when there is none."""
    if pos + 4 > len(data) or data[pos] != 0xFF or data[pos + 1] & 0xE0 != 0xE0:
        return None
    b1, b2, b3 = data[pos + 1], data[pos + 2], data[pos + 3]
    version, layer_bits = (b1 >> 3) & 3, (b1 >> 1) & 3
    bitrate_index, rate_index, padding = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer_bits == 0 or bitrate_index in (0, 15) or rate_index == 3:
        return None
    layer = 4 - layer_bits
    mpeg1 = version == 3
    bitrate = _BITRATES[(mpeg1, layer)][bitrate_index] * 1000
    rate = _RATES[version][rate_index]
    if layer == 1:
        return Header((12 * bitrate // rate + padding) * 4, 384, rate, mpeg1, (b3 >> 6) == 3)
    samples = 1152 if layer == 2 or mpeg1 else 576
    return Header(samples // 8 * bitrate // rate + padding, samples, rate, mpeg1, (b3 >> 6) == 3)


def _id3v2_end(data: bytes) -> int:
    """Byte offset after a leading ID3v2 tag (0 when none)."""
    if len(data) < 10 or data[:3] != b"ID3":
        return 0
    size = (data[6] & 0x7F) << 21 | (data[7] & 0x7F) << 14 | (data[8] & 0x7F) << 7 | (data[9] & 0x7F)
    return 10 + size + (10 if data[5] & 0x10 else 0)


def _tlen_ms(data: bytes, end: int) -> float | None:
    """The ID3v2 ``TLEN`` frame (track length in ms), when the tag has one."""
    major = data[3]
    pos = 10
    while pos + 10 <= end and data[pos:pos + 1] not in (b"\x00", b""):
        frame_id = data[pos:pos + 4]
        raw = data[pos + 4:pos + 8]
        size = (raw[0] & 0x7F) << 21 | (raw[1] & 0x7F) << 14 | (raw[2] & 0x7F) << 7 | (raw[3] & 0x7F) \
            if major >= 4 else struct.unpack(">I", raw)[0]
        if frame_id == b"TLEN":
            text = data[pos + 11:pos + 10 + size].decode("latin-1", errors="ignore").strip("\x00 ")
            return float(text) if text.isdigit() and int(text) > 0 else None
        pos += 10 + size
    return None


def _vbr_header(data: bytes, pos: int, header: Header) -> tuple[int | None, int | None, str]:
    """(frames, bytes, kind) declared by a Xing/Info or VBRI header in the frame at ``pos``."""
    side = (17 if header.mono else 32) if header.mpeg1 else (9 if header.mono else 17)
    at = pos + 4 + side
    tag = data[at:at + 4]
    if tag in (b"Xing", b"Info") and at + 8 <= len(data):
        flags = struct.unpack(">I", data[at + 4:at + 8])[0]
        q, frames, size = at + 8, None, None
        if flags & 1 and q + 4 <= len(data):
            frames, q = struct.unpack(">I", data[q:q + 4])[0], q + 4
        if flags & 2 and q + 4 <= len(data):
            size = struct.unpack(">I", data[q:q + 4])[0]
        return frames, size, tag.decode()
    if data[pos + 36:pos + 40] == b"VBRI" and pos + 54 <= len(data):
        size, frames = struct.unpack(">II", data[pos + 46:pos + 54])
        return frames, size, "VBRI"
    return None, None, ""


def _first_frame(data: bytes, start: int) -> int | None:
    """Offset of the first frame header that is followed by another one (no false sync)."""
    limit = min(len(data), start + (1 << 16))
    pos = data.find(b"\xff", start, limit)
    while 0 <= pos < limit:
        header = parse_header(data, pos)
        if header is not None:
            nxt = pos + header.length
            if nxt >= len(data) or parse_header(data, nxt) is not None:
                return pos
        pos = data.find(b"\xff", pos + 1, limit)
    return None


def scan_mp3(data: bytes) -> Mp3Scan | None:
    """The frame facts of an mp3's bytes, or None when no MPEG audio frames are found."""
    start = _id3v2_end(data)
    if start > len(data):
        return Mp3Scan(frames=0, sample_rate=0, duration_s=0.0, audio_start=start, ends_inside="ID3 tag",
                       last_frame_needs=start, last_frame_has=len(data))
    tlen = _tlen_ms(data, start) if start else None
    pos = _first_frame(data, start)
    if pos is None:
        return None
    first = parse_header(data, pos)
    vbr_frames, vbr_bytes, vbr_kind = _vbr_header(data, pos, first)
    audio_start, frames, samples = pos, 0, 0
    if vbr_kind:  # the header frame carries no audio
        pos += first.length
    ends_inside, needs, has = "", 0, 0
    while True:
        header = parse_header(data, pos)
        if header is None or header.sample_rate != first.sample_rate:
            resync = _first_frame(data, pos + 1)  # junk inside the stream: skip to the next frame pair
            if resync is None or parse_header(data, resync).sample_rate != first.sample_rate:
                break
            pos = resync
            continue
        if pos + header.length > len(data):
            ends_inside, needs, has = "frame", header.length, len(data) - pos
            break
        frames += 1
        samples += header.samples
        pos += header.length
    scan = Mp3Scan(frames=frames, sample_rate=first.sample_rate, duration_s=samples / first.sample_rate,
                   audio_start=audio_start, ends_inside=ends_inside, last_frame_needs=needs,
                   last_frame_has=has)
    if vbr_frames:
        scan.declared_s, scan.declared_by = vbr_frames * first.samples / first.sample_rate, f"{vbr_kind} header"
        scan.declared_bytes = vbr_bytes
    elif tlen:
        scan.declared_s, scan.declared_by = tlen / 1000.0, "ID3 TLEN"
    return scan


class FileBytes:
    """A file's bytes as :func:`scan_mp3` reads them (indexing, slicing, ``find``), a window
    of them in memory at a time: counting the frames of a 3-hour mp3 holds 1 MB, not 400.
    ``fh`` is the file opened for binary reading, ``size`` its length."""

    def __init__(self, fh: Any, size: int, window: int = 1 << 20):
        self.fh, self.size, self.window = fh, size, window
        self.start, self.data = 0, b""

    def __len__(self) -> int:
        return self.size

    def _load(self, pos: int, need: int) -> None:
        if self.start <= pos and pos + need <= self.start + len(self.data):
            return
        if pos + need > self.start + len(self.data) or pos < self.start:
            self.fh.seek(pos)
            self.start, self.data = pos, self.fh.read(max(self.window, need))

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            a, b, step = key.indices(self.size)
            if step != 1:
                raise ValueError("only contiguous slices")
            if b <= a:
                return b""
            self._load(a, b - a)
            return self.data[a - self.start:b - self.start]
        if key < 0:
            key += self.size
        if not 0 <= key < self.size:
            raise IndexError(key)
        self._load(key, 1)
        return self.data[key - self.start]

    def find(self, sub: bytes, start: int = 0, end: int | None = None) -> int:
        end = self.size if end is None else min(end, self.size)
        while start < end:
            span = min(end - start, self.window)
            self._load(start, min(span + len(sub) - 1, self.size - start))
            at = self.data.find(sub, start - self.start, min(end, start + span + len(sub) - 1) - self.start)
            if at >= 0:
                return at + self.start
            start += span
        return -1

    def startswith(self, prefix: bytes) -> bool:
        return self[:len(prefix)] == prefix
