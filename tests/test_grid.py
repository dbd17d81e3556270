import numpy as np

from moodflow.stores.grid import align_to_frames, frame_grid, window_stats


def test_frame_grid_counts_full_windows():
    start, end = frame_grid(3.0, win_s=1.0, hop_s=0.5)
    assert np.allclose(start, [0, 0.5, 1.0, 1.5, 2.0])
    assert np.allclose(end - start, 1.0)
    assert len(frame_grid(0.99)[0]) == 0
    assert len(frame_grid(1.0)[0]) == 1


def test_window_stats_match_numpy():
    rng = np.random.default_rng(0)
    times = np.arange(300) * 0.01
    values = rng.normal(size=(300, 3)) * 1000 + 5e4
    start, end = frame_grid(3.0)
    stats = window_stats(values, times, start, end)
    for k, (a, b) in enumerate(zip(start, end)):
        rows = values[(times >= a) & (times < b)]
        assert np.allclose(stats[k, :3], rows.mean(axis=0))
        assert np.allclose(stats[k, 3:], rows.std(axis=0))


def test_window_stats_empty_window_is_nan():
    stats = window_stats(np.ones((5, 2)), np.arange(5) * 0.01, np.array([10.0]), np.array([11.0]))
    assert np.isnan(stats).all()


def test_align_by_time_not_index():
    start, end = frame_grid(20.0)
    idx = align_to_frames(np.array([15.5, 16.0, 0.5, 19.5, 25.0]), start, end)
    centres = (start + end) / 2
    assert np.allclose(centres[idx[:4]], [15.5, 16.0, 0.5, 19.5])
    assert idx[4] == -1
