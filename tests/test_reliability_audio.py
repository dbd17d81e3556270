"""Bad and unusual audio: every case is decoded correctly or refused with the file and the problem
named, through ``load_audio``, the decode stage (``decode_dataset``) and extraction."""

from __future__ import annotations

import logging
import tracemalloc

import h5py
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from moodflow.decode.audio import AudioError, load_audio
from moodflow.stores.audio_store import AudioStore
from moodflow.decode.run import DecodeFailed, decode_dataset
from moodflow.extract.run import extract_store
from moodflow.prepare.run import prepare_dataset
from moodflow.stores.feature_store import FeatureStore

SR = 22050


def _tone(seconds: float, sr: int = SR, amp: float = 0.5, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    y = amp * np.sin(2 * np.pi * 440.0 * t)
    return np.tile(y[:, None], (1, channels)) if channels > 1 else y


def _write_bad(folder, name: str, shared=None) -> None:
    """Write one broken file named ``name`` into ``folder``."""
    path = folder / name
    if name.startswith("empty"):
        path.write_bytes(b"")
    elif name.startswith("text"):
        path.write_text("id,valence\n1,0.5\nthis is a spreadsheet, not a song\n" * 5)
    elif name.startswith("archive"):
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    elif name.startswith("nonfinite"):
        y = _tone(1.0).astype(np.float32)
        y[100] = np.nan
        sf.write(path, y, SR, subtype="FLOAT")
    elif name.startswith("inf"):
        y = _tone(1.0).astype(np.float32)
        y[-1] = np.inf
        sf.write(path, y, SR, subtype="FLOAT")
    elif name.startswith("truncated"):
        data = (shared / "emoMusic/clips_45seconds/2.mp3").read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        raise ValueError(name)


# -- load_audio: formats that must decode -------------------------------------------------------
@pytest.mark.parametrize(
    "subtype, sr, channels",
    [("PCM_U8", SR, 1), ("PCM_16", SR, 1), ("PCM_24", SR, 2), ("FLOAT", SR, 1), ("DOUBLE", 44100, 2),
     ("PCM_16", 8000, 1), ("PCM_16", 48000, 6)],
)
def test_wav_variants_decode_to_mono_float(tmp_path, subtype, sr, channels):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(1.5, sr, channels=channels), sr, subtype=subtype)
    y = load_audio(path, SR)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - int(1.5 * SR)) <= 2  # resampled to the one canonical rate
    assert np.isfinite(y).all()
    tol = 0.02 if subtype == "PCM_U8" else 1e-3
    assert abs(np.max(np.abs(y)) - 0.5) < tol  # averaging identical channels keeps the level


def test_beyond_full_scale_float_is_clipped_and_logged(tmp_path, caplog):
    overs = tmp_path / "overs.wav"  # a lossy decoder's inter-sample overs are kept as decoded
    sf.write(overs, (2.3 * _tone(1.0)).astype(np.float32), SR, subtype="FLOAT")
    assert np.max(np.abs(load_audio(overs, SR))) == pytest.approx(1.15, abs=1e-3)
    path = tmp_path / "loud.wav"
    sf.write(path, (6.0 * _tone(1.0)).astype(np.float32), SR, subtype="FLOAT")
    with caplog.at_level(logging.WARNING, logger="moodflow.decode.audio"):
        y = load_audio(path, SR)
    assert np.max(np.abs(y)) == pytest.approx(1.0)
    assert "loud.wav" in caplog.text and "clipped" in caplog.text


@pytest.mark.parametrize(
    "name, problem",
    [("empty.wav", "empty"), ("text.mp3", "plain text"), ("archive.ogg", "zip archive"),
     ("nonfinite.wav", "NaN or infinite"), ("inf.wav", "NaN or infinite")],
)
def test_bad_files_are_refused_naming_file_and_problem(tmp_path, name, problem):
    _write_bad(tmp_path, name)
    with pytest.raises(AudioError, match=problem) as info:
        load_audio(tmp_path / name, SR)
    assert str(tmp_path / name) in str(info.value)


def test_unsupported_container_is_refused(tmp_path):
    """Binary garbage in an ``.m4a``: neither libsndfile nor the ffmpeg fallback reads it."""
    path = tmp_path / "garbage.m4a"
    path.write_bytes(b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00" + np.random.default_rng(0).bytes(4000))
    with pytest.raises(AudioError, match="unsupported or corrupt") as info:
        load_audio(path, SR)
    assert "garbage.m4a" in str(info.value) and "libsndfile" in str(info.value)


def test_truncated_mp3_is_refused(tmp_path, shared_data):
    _write_bad(tmp_path, "truncated.mp3", shared_data)
    with pytest.raises(AudioError, match=r"truncated.*45\.0\d s") as info:
        load_audio(tmp_path / "truncated.mp3", SR)
    assert "truncated.mp3" in str(info.value)


def test_too_short_with_min_duration(tmp_path):
    sf.write(tmp_path / "blip.wav", _tone(0.2), SR)
    assert len(load_audio(tmp_path / "blip.wav", SR)) == int(0.2 * SR)  # allowed by default
    with pytest.raises(AudioError, match=r"too short: 0\.200 s < 1\.0 s"):
        load_audio(tmp_path / "blip.wav", SR, min_duration_s=1.0)


def test_ten_minute_track_decodes_with_bounded_memory(tmp_path):
    """10 min at 8 kHz → 22.05 kHz: peak Python-visible memory stays near the output's size."""
    path = tmp_path / "long.wav"
    t = np.arange(8000 * 600) / 8000
    sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 8000, subtype="PCM_16")
    del t
    tracemalloc.start()
    try:
        y = load_audio(path, SR)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(y) == 600 * SR
    assert peak < 2.0 * y.nbytes, f"peak {peak / 1e6:.0f} MB for a {y.nbytes / 1e6:.0f} MB track"


# -- the decode stage over a folder dataset -----------------------------------------------------
@pytest.fixture
def mixed_folder(tmp_path, shared_data):
    """A folder dataset: three good tracks (one 8 kHz 24-bit, one 6-channel) and five bad ones."""
    root = tmp_path / "music"
    root.mkdir()
    sf.write(root / "good_a.wav", _tone(2.0), SR)
    sf.write(root / "good_b.flac", _tone(2.0, 8000), 8000, subtype="PCM_24")
    sf.write(root / "good_c.wav", _tone(2.0, 48000, channels=6), 48000)
    for name in ("empty.wav", "text.mp3", "nonfinite.wav", "archive.ogg", "truncated.mp3"):
        _write_bad(root, name, shared_data)
    prepared = tmp_path / "prepared"
    prepare_dataset({"name": "folder", "root": str(root)}, prepared)
    return tmp_path, prepared


def test_decode_skip_keeps_good_tracks_and_lists_bad_ones(mixed_folder):
    tmp, prepared = mixed_folder
    n, errors = decode_dataset(prepared, tmp / "audio.h5", tmp / "decode_errors.csv", sample_rate=SR, on_error="skip")
    assert n == 3
    with h5py.File(tmp / "audio.h5") as h:
        assert sorted(x.decode() for x in h["tracks/id"][:]) == ["good_a", "good_b", "good_c"]
    store = AudioStore(tmp / "audio.h5")
    for tid in store.ids:
        y = store.signal(tid)
        assert len(y) == 2 * SR and np.isfinite(y).all()
    store.close()
    listed = pd.read_csv(tmp / "decode_errors.csv")
    assert sorted(listed["track_id"]) == ["archive", "empty", "nonfinite", "text", "truncated"]
    by_id = dict(zip(listed["track_id"], listed["error"]))
    assert "empty" in by_id["empty"] and "plain text" in by_id["text"] and "NaN" in by_id["nonfinite"]
    assert "truncated" in by_id["truncated"] and "zip" in by_id["archive"]
    assert all(p.endswith(("empty.wav", "text.mp3", "nonfinite.wav", "archive.ogg", "truncated.mp3"))
               for p in listed["audio_path"])


def test_decode_stop_names_the_file_and_leaves_no_store(mixed_folder):
    tmp, prepared = mixed_folder
    with pytest.raises(DecodeFailed, match=r"on_error is 'stop': .*(empty\.wav|archive\.ogg|nonfinite\.wav|text\.mp3|truncated\.mp3)"):
        decode_dataset(prepared, tmp / "audio.h5", tmp / "decode_errors.csv", sample_rate=SR, on_error="stop")
    assert not (tmp / "audio.h5").exists()
    assert not list(tmp.glob(".audio.h5.partial*"))  # no temporary left behind either
    assert len(pd.read_csv(tmp / "decode_errors.csv")) == 1  # the culprit is listed


def test_decode_with_nothing_decodable_fails_clearly(tmp_path):
    root = tmp_path / "music"
    root.mkdir()
    _write_bad(root, "empty.wav")
    _write_bad(root, "text.mp3")
    prepare_dataset({"name": "folder", "root": str(root)}, tmp_path / "prepared")
    with pytest.raises(DecodeFailed, match="none of the 2 tracks could be decoded"):
        decode_dataset(tmp_path / "prepared", tmp_path / "a.h5", tmp_path / "e.csv", sample_rate=SR)
    assert not (tmp_path / "a.h5").exists()


def test_bad_on_error_value_is_refused(mixed_folder):
    tmp, prepared = mixed_folder
    with pytest.raises(ValueError, match="decode.on_error must be 'skip' or 'stop'"):
        decode_dataset(prepared, tmp / "a.h5", tmp / "e.csv", sample_rate=SR, on_error="ignore")


# -- extraction of silent / very short tracks ---------------------------------------------------
@pytest.fixture
def edge_store(tmp_path):
    """Decoded store with a normal tone, digital silence, a 0.6 s clip and a 50 ms clip."""
    root = tmp_path / "music"
    root.mkdir()
    sf.write(root / "tone.wav", _tone(3.0), SR)
    sf.write(root / "silence.wav", np.zeros(3 * SR, dtype=np.float32), SR, subtype="FLOAT")
    sf.write(root / "short.wav", _tone(0.6), SR)
    sf.write(root / "tiny.wav", _tone(0.05), SR)
    prepare_dataset({"name": "folder", "root": str(root)}, tmp_path / "prepared")
    n, errors = decode_dataset(tmp_path / "prepared", tmp_path / "audio.h5", tmp_path / "e.csv", sample_rate=SR)
    assert n == 4 and errors.empty
    return tmp_path


def _extract(tmp, name, config=None):
    out = tmp / f"{name}.h5"
    counts = extract_store(name=name, config=config or {}, grid={}, audio_path=tmp / "audio.h5",
                           prepared_dir=tmp / "prepared", out_path=out, dataset="folder", workers=1)
    return counts, FeatureStore(out)


def test_chroma_on_silent_and_short_tracks(edge_store):
    counts, store = _extract(edge_store, "chroma")
    with store:
        assert sorted(store.ids) == ["short", "silence", "tiny", "tone"]
        static = dict(zip(store.ids, store.static()))
        assert np.isfinite(static["tone"]).all() and static["tone"][:12].max() > 0.5
        assert np.isfinite(static["silence"]).all() and np.all(static["silence"] == 0)  # silence: zero chroma
        assert np.isnan(static["tiny"]).all()  # shorter than one analysis frame: a NaN row
        assert len(store.frames("tiny")[0]) == 0
        assert np.isfinite(static["short"]).all()
        # 0.6 s is shorter than the 1 s grid window: no frame, but still a static vector
        assert len(store.frames("short")[0]) == 0
        assert len(store.frames("tone")[0]) == 5  # 3 s on a 1 s / 0.5 s grid
    assert counts == {"tracks": 4, "failed": 0, "cached": 0, "extracted": 4}  # short/silent/tiny are rows, not failures


def test_compare_on_silent_and_short_tracks(edge_store):
    counts, store = _extract(edge_store, "compare")
    with store:
        assert len(store.ids) == 4  # every track has a row, none lost
        static = dict(zip(store.ids, store.static()))
        assert np.isfinite(static["tone"]).all()
        for tid in ("silence", "short", "tiny"):
            row = static[tid]
            assert np.isfinite(row).all() or np.isnan(row).all(), f"{tid}: half-failed row"
        assert len(store.frames("tone")[0]) == 5


# -- audio that lies (issue 15) -----------------------------------------------------------------
def _wav_declaring(path, sample_rate: int) -> None:
    """A 5 s 22.05 kHz 16-bit WAV (220 KB) whose header claims ``sample_rate``."""
    import struct

    sf.write(path, _tone(5.0), SR, subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", sample_rate)
    data[28:32] = struct.pack("<I", sample_rate * 2)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rate", [0, 1, 100, 1_000_000])
def test_a_wav_declaring_an_impossible_sample_rate_is_refused(tmp_path, rate):
    """Before: 1 Hz needed ~9.7 GB (MemoryError), 100 Hz turned 5 s into 1102 s, 0 Hz was an
    'unexpected decoder error'."""
    path = tmp_path / f"sr{rate}.wav"
    _wav_declaring(path, rate)
    with pytest.raises(AudioError, match=rf"sample rate {rate} Hz is outside the sane range 4000–384000 Hz") as info:
        load_audio(path, SR)
    assert str(path) in str(info.value)


def test_a_header_declaring_more_audio_than_the_file_holds_is_refused(tmp_path):
    """A FLAC whose STREAMINFO claims 2**35 samples in 18 KB: refused before a 128 GB read."""
    sf.write(tmp_path / "ok.flac", _tone(2.0), SR, subtype="PCM_16")
    data = bytearray((tmp_path / "ok.flac").read_bytes())
    bits = int.from_bytes(data[18:26], "big")
    data[18:26] = ((bits & ~((1 << 36) - 1)) | (1 << 35)).to_bytes(8, "big")
    (tmp_path / "lie.flac").write_bytes(bytes(data))
    with pytest.raises(AudioError, match=r"lie\.flac: .* s of audio declared in a \d+-byte file: out of proportion"):
        load_audio(tmp_path / "lie.flac", SR)
    assert len(load_audio(tmp_path / "ok.flac", SR)) == 2 * SR


def test_mp3s_cut_short_without_a_length_header_are_refused(tmp_path, shared_data):
    """Every shared mp3 (4 PMEmo, 20 4Q, 6 emoMusic) cut at 30, 50 and 90 % of its bytes. Before,
    only the emoMusic clips (which carry an Info header) were caught. A cut that lands exactly on a
    frame boundary leaves a valid shorter mp3 that nothing can tell from a short song: asserted
    as such, not skipped."""
    from moodflow.decode.mp3scan import parse_header

    files = sorted(shared_data.glob("PMEmo2019/chorus/*.mp3")) + sorted(shared_data.glob("4Q/**/*.mp3")) \
        + sorted(shared_data.glob("emoMusic/clips_45seconds/*.mp3"))
    assert len(files) == 30
    refused, on_a_boundary = 0, []
    for src in files:
        data = src.read_bytes()
        for fraction in (0.3, 0.5, 0.9):
            cut = int(len(data) * fraction)
            path = tmp_path / f"{src.stem}-{int(fraction * 100)}.mp3"
            path.write_bytes(data[:cut])
            try:
                load_audio(path, SR)
            except AudioError as exc:
                assert str(path) in str(exc) and "truncated" in str(exc)
                refused += 1
                continue
            assert parse_header(data, cut) is not None, f"{path.name}: a cut inside a frame decoded silently"
            on_a_boundary.append(path.name)
    assert refused + len(on_a_boundary) == 90 and len(on_a_boundary) <= 2, on_a_boundary
    for src in files[:2] + files[-1:]:
        assert len(load_audio(src, SR)) > 20 * SR  # whole files still decode


@pytest.mark.parametrize("kind, problem", [
    ("directory", "is a directory, not an audio file"),
    ("fifo", r"is a FIFO \(named pipe\), not an audio file"),
    ("broken link", r"broken symbolic link \(to .*gone\.mp3\)"),
])
def test_paths_that_are_not_audio_files_are_refused_without_opening_them(tmp_path, kind, problem):
    """A FIFO would block a reader forever; a directory was a traceback in predict."""
    import os

    path = tmp_path / "x.mp3"
    if kind == "directory":
        path.mkdir()
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to(tmp_path / "gone.mp3")
    with pytest.raises(AudioError, match=problem) as info:
        load_audio(path, SR)
    assert str(path) in str(info.value)


def test_folder_scan_lists_what_it_skips_and_follows_linked_folders_once(tmp_path, caplog):
    """Before: directories named like audio, FIFOs, broken links and symlinked folders vanished
    silently (and their labels were dropped); now linked folders are scanned, once (no loop),
    and every skipped entry is listed with the reason in one warning."""
    import os

    from moodflow.datasets._common import scan_audio

    root, elsewhere = tmp_path / "music", tmp_path / "elsewhere"
    (root / "album").mkdir(parents=True)
    elsewhere.mkdir()
    sf.write(root / "album" / "a.wav", _tone(0.5), SR)
    sf.write(elsewhere / "b.wav", _tone(0.5), SR)
    (root / "linked").symlink_to(elsewhere)  # a folder of the collection kept on another disk
    (elsewhere / "loop").symlink_to(root)  # … that links back: must not loop
    (root / "dir.mp3").mkdir()
    os.mkfifo(root / "pipe.wav")
    (root / "broken.flac").symlink_to(tmp_path / "nowhere.flac")
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        found = scan_audio(root)
    assert sorted(found) == ["album/a", "linked/b"]
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "4 entries skipped" in warnings[0]
    for text in ("dir.mp3 (a directory named like an audio file)", "pipe.wav (a FIFO, not a file)",
                 "broken.flac (broken symbolic link to", "linked/loop (a link to a folder already scanned"):
        assert text in warnings[0]


def test_label_ids_match_file_names_exactly_as_written(tmp_path, caplog):
    """A file named 'song .wav' (trailing space) keeps its id 'song '; its label, written with the
    space, matches it (before: the label was stripped and never matched). A label with a stray
    space for a file without one still matches, with a warning."""
    root = tmp_path / "music"
    root.mkdir()
    for name in ("song ", "other", "third"):
        sf.write(root / f"{name}.wav", _tone(1.0), SR)
    pd.DataFrame({"track_id": ["song ", "other ", "third"], "valence": [1.0, 2.0, 3.0],
                  "arousal": [1.0, 2.0, 3.0]}).to_csv(root / "labels.csv", index=False)
    with caplog.at_level(logging.WARNING, logger="moodflow.datasets"):
        prepared = prepare_dataset({"name": "folder", "root": str(root), "folder": {"labels": "labels.csv"}},
                                   tmp_path / "prepared")
    labels = dict(zip(prepared.static_labels["track_id"], prepared.static_labels["valence"]))
    assert labels == {"song ": 1.0, "other": 2.0, "third": 3.0}
    assert sorted(prepared.manifest["track_id"]) == ["other", "song ", "third"]
    assert "'other ' → 'other'" in caplog.text
