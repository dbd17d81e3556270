"""The ``provided`` feature set: 4Q's top-100 CSV (real) and dynamic CSVs the tests write."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.real_data import SHARED, needs_shared

from moodflow.datasets import DATASETS
from moodflow.stores.prepared import LabelSpec, PreparedDataset
from moodflow.features import EXTRACTORS
from moodflow.stores.grid import GridConfig
from moodflow.stores.feature_store import FeatureStore, FeatureStoreWriter



def _store(ex, prepared_dir, path):
    """Write what the importer yields into a real feature store (as the extract stage does)."""
    tracks = ex.import_tracks(str(prepared_dir))
    first = next(tracks)
    with FeatureStoreWriter(path, feature_names=ex.feature_names(), frame_shape=ex.frame_shape(),
                            extractor=ex.name, extractor_version=ex.version, config=ex.config_dict(),
                            dataset="test", sample_rate=None) as writer:
        for tid, dur, feats in [first, *tracks]:
            writer.append(tid, dur, feats.static, feats.frames, feats.start_s, feats.end_s)
    return FeatureStore(path)


@needs_shared
def test_fourq_top100_import(tmp_path):
    prepared = DATASETS.get("fourq")(Path(SHARED) / "4Q", {}).load(None)
    prepared.write(tmp_path / "prepared")
    ex = EXTRACTORS.get("provided")({})
    with _store(ex, tmp_path / "prepared", tmp_path / "provided.h5") as store:
        assert len(store.ids) == 900 and set(store.ids) == set(prepared.static_labels["track_id"])
        assert len(store.feature_names) == 100 and "Quadrant" not in store.feature_names
        assert store.feature_names[:2] == ["F0525", "F1152"]
        static = store.static()
        assert static.shape == (900, 100) and np.isfinite(static).all()
        # first data row of the CSV: "MT0000004637",4.6433,9.2878,0.92722,700750,…
        assert store.static(["MT0000004637"])[0, :4] == pytest.approx([4.6433, 9.2878, 0.92722, 700750], rel=1e-6)
        assert store.frame_shape == (100,) and store.offsets[-1] == 0
        assert np.isnan(store.durations).all()


def _prepared_with(tmp_path, info):
    manifest = pd.DataFrame({"track_id": ["a", "b", "c"], "audio_path": ["/x/a.mp3", "/x/b.mp3", "/x/c.mp3"],
                             "duration_s": [30.0, 31.0, np.nan]})
    labels = pd.DataFrame({"track_id": ["a", "b", "c"], "valence": [0.1, 0.2, 0.3]})
    PreparedDataset("t", manifest, labels, LabelSpec(static_targets=["valence"]), info=info).write(tmp_path / "prep")
    return tmp_path / "prep"


def _dynamic_csv(path):
    # rows out of time order on purpose; PMEmo-like columns with a frameTime column
    path.write_text("musicId,frameTime,f1,f2\n"
                    "a,16.0,2,20\na,15.5,1,10\na,16.5,3,30\n"
                    "b,15.5,5,50\nb,16.0,7,70\n")
    return path


def test_dynamic_csv_frames_centred_on_csv_times(tmp_path, caplog):
    csv = _dynamic_csv(tmp_path / "dyn.csv")
    prep = _prepared_with(tmp_path, {"provided_features": {"dynamic_csv": str(csv), "id_column": "musicId",
                                                           "time_column": "frameTime"}})
    ex = EXTRACTORS.get("provided")({}, GridConfig(win_s=1.0, hop_s=0.5))
    with caplog.at_level(logging.WARNING, logger="moodflow.features.provided"):
        with _store(ex, prep, tmp_path / "p.h5") as store:
            assert store.ids == ["a", "b"] and store.feature_names == ["f1", "f2"]
            values, start, end = store.frames("a")
            assert values.tolist() == [[1, 10], [2, 20], [3, 30]]
            assert ((start + end) / 2).tolist() == [15.5, 16.0, 16.5]
            assert (end - start).tolist() == [1.0, 1.0, 1.0]
            assert store.static(["b"])[0].tolist() == [6.0, 60.0]  # mean of b's frames
            assert store.durations.tolist() == [30.0, 31.0]  # from the prepared manifest
    assert "1 of 3 manifest tracks have no provided features" in caplog.text


def test_user_csv_overrides_dataset_and_frame_window(tmp_path):
    csv = _dynamic_csv(tmp_path / "dyn.csv")
    prep = _prepared_with(tmp_path, {})
    ex = EXTRACTORS.get("provided")({"dynamic_csv": str(csv), "frame_win_s": 0.5})
    tracks = {t: f for t, _, f in ex.import_tracks(str(prep))}
    assert tracks["a"].start_s.tolist() == [15.25, 15.75, 16.25]
    assert tracks["a"].end_s.tolist() == [15.75, 16.25, 16.75]


def test_static_and_dynamic_parts(tmp_path):
    dyn = _dynamic_csv(tmp_path / "dyn.csv")
    same = tmp_path / "same.csv"
    same.write_text("musicId;f1;f2\na;0.5;5\nb;1.5;15\n")  # ';'-separated, same columns
    other = tmp_path / "other.csv"
    other.write_text("musicId,g1,g2,g3\na,1,2,3\nb,4,5,6\n")
    rec = {"dynamic_csv": str(dyn), "id_column": "musicId", "time_column": "frameTime"}
    prep_same = _prepared_with(tmp_path / "s", {"provided_features": {**rec, "static_csv": str(same)}})
    ex = EXTRACTORS.get("provided")({})
    out = {t: f for t, _, f in ex.import_tracks(str(prep_same))}
    assert ex._sources["part"] == "both"
    assert out["a"].static.tolist() == [0.5, 5.0] and len(out["a"].frames) == 3
    # PMEmo-like: static and dynamic columns differ → auto gives the static ones, no frames
    prep_other = _prepared_with(tmp_path / "o", {"provided_features": {**rec, "static_csv": str(other)}})
    ex = EXTRACTORS.get("provided")({})
    out = {t: f for t, _, f in ex.import_tracks(str(prep_other))}
    assert ex.feature_names() == ["g1", "g2", "g3"] and out["b"].frames.shape == (0, 3)
    ex = EXTRACTORS.get("provided")({"part": "dynamic"})
    out = {t: f for t, _, f in ex.import_tracks(str(prep_other))}
    assert ex.feature_names() == ["f1", "f2"] and out["b"].frames.shape == (2, 2)
    with pytest.raises(ValueError, match="different columns|differ"):
        list(EXTRACTORS.get("provided")({"part": "both"}).import_tracks(str(prep_other)))


def test_errors_name_file_and_problem(tmp_path):
    prep = _prepared_with(tmp_path, {})
    with pytest.raises(ValueError, match="no feature CSV to import"):
        list(EXTRACTORS.get("provided")({}).import_tracks(str(prep)))
    bad = tmp_path / "bad.csv"
    bad.write_text("id,f1,label\na,1,happy\n")
    with pytest.raises(ValueError, match="bad.csv column 'label' is not numeric"):
        list(EXTRACTORS.get("provided")({"static_csv": str(bad)}).import_tracks(str(prep)))
    ok = list(EXTRACTORS.get("provided")({"static_csv": str(bad), "exclude_columns": ["label"]}).import_tracks(str(prep)))
    assert ok[0][0] == "a" and ok[0][2].static.tolist() == [1.0]
    notime = tmp_path / "notime.csv"
    notime.write_text("id,f1\na,1\n")
    with pytest.raises(ValueError, match="notime.csv has no time column"):
        list(EXTRACTORS.get("provided")({"dynamic_csv": str(notime)}).import_tracks(str(prep)))
    with pytest.raises(ValueError, match="unknown setting"):
        EXTRACTORS.get("provided")({"csv": "x"})
    with pytest.raises(TypeError, match="imported"):
        EXTRACTORS.get("provided")({}).extract(np.zeros(10, np.float32), 22050)


def test_extract_stage_builds_a_store_from_the_prepared_folder(tmp_path, monkeypatch):
    """The real extract-stage entry point (names asked before import) on a PMEmo-like dataset."""
    from moodflow.extract.run import extract_store

    csv = _dynamic_csv(tmp_path / "dyn.csv")
    monkeypatch.chdir(tmp_path)
    prep = _prepared_with(tmp_path / "data", {"provided_features": {"dynamic_csv": str(csv), "id_column": "musicId",
                                                                    "time_column": "frameTime"}})
    (tmp_path / "data" / "prep").rename(tmp_path / "data" / "prepared")
    counts = extract_store(name="provided", config={}, grid={}, audio_path="unused.h5",
                           prepared_dir="data/prepared", out_path="features/provided.h5", dataset="t")
    assert (counts["tracks"], counts["failed"]) == (2, 0) and not prep.exists()
    with FeatureStore(tmp_path / "features/provided.h5") as store:
        assert store.feature_names == ["f1", "f2"] and store.offsets.tolist() == [0, 3, 5]
        values, start, end = store.frames("b")
        assert values.tolist() == [[5, 50], [7, 70]] and ((start + end) / 2).tolist() == [15.5, 16.0]
