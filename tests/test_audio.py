import numpy as np
import pytest
import soundfile as sf

from moodflow.decode.audio import AudioError, load_audio

from tests.helpers.signals import tone


def test_wav_resampled_to_mono(tmp_path):
    stereo = np.stack([tone(440, 1.0, 44100), tone(440, 1.0, 44100)], axis=1)
    sf.write(tmp_path / "a.wav", stereo, 44100, subtype="PCM_24")
    y = load_audio(tmp_path / "a.wav", 22050)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(len(y) - 22050) <= 1
    assert 0.3 < np.abs(y).max() <= 0.51


@pytest.mark.parametrize(
    "content, problem",
    [(b"", "empty"), (b"this is not audio at all" * 10, "cannot decode")],
)
def test_bad_files_name_the_problem(tmp_path, content, problem):
    path = tmp_path / "bad.mp3"
    path.write_bytes(content)
    with pytest.raises(AudioError, match=problem) as info:
        load_audio(path, 22050)
    assert "bad.mp3" in str(info.value)


def test_missing_and_nan(tmp_path):
    with pytest.raises(AudioError, match="not found"):
        load_audio(tmp_path / "nope.wav", 22050)
    y = tone(seconds=0.5)
    y[10] = np.nan
    sf.write(tmp_path / "nan.wav", y, 22050, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        load_audio(tmp_path / "nan.wav", 22050)


def test_too_short(tmp_path):
    sf.write(tmp_path / "s.wav", tone(seconds=0.2), 22050)
    with pytest.raises(AudioError, match="too short"):
        load_audio(tmp_path / "s.wav", 22050, min_duration_s=1.0)


@pytest.mark.parametrize(
    "relpath, seconds",
    [("PMEmo2019/chorus/108.mp3", None), ("emoMusic/clips_45seconds/2.mp3", 45.0)],
)
def test_real_mp3(shared_data, relpath, seconds):
    """PMEmo (44.1 kHz stereo) and emoMusic (mono 64 kbps) clips decode to finite mono audio."""
    path = shared_data / relpath
    info = sf.info(path)
    y = load_audio(path, 22050)
    assert np.isfinite(y).all() and y.ndim == 1
    assert abs(len(y) / 22050 - info.duration) < 0.25  # mp3 length estimates differ by the encoder delay
    assert np.sqrt(np.mean(y**2)) > 0.01
    if seconds:
        assert abs(len(y) / 22050 - seconds) < 1.0
