"""Distillation measured (issue 27): one joint run with and without ``train.multitask.distill``
on the team's real clips, and the synthetic transfer figures over 3 seeds.

    MOODFLOW_SHARED_DATA=../shared/data python benchmarks/music2emo_distill.py [--skip-layouts]

1. PMEmo + emoMusic from ``$MOODFLOW_SHARED_DATA`` (the clips that have audio there: 4 + 6),
   decoded, chroma extracted, ``multitask`` trained by 2-fold CV with distillation off and on
   (w 0.5, τ 2): each member's R² from ``metrics.json`` → ``datasets`` (student) and
   ``teachers``. Ten clips: far too few to mean anything; it shows the mechanics on real audio.
2. ``tests/test_distill.py``'s two generated corpora (a big tagged one and a small valence one
   depending on the same hidden property): held-out valence R² of the small dataset's own
   model, the joint model without distillation and the distilled student, seeds 0, 1, 2.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def layouts(shared: Path, work: Path) -> None:
    from moodflow.decode.run import decode_dataset
    from moodflow.extract.run import extract_store
    from moodflow.prepare.run import prepare_dataset
    from moodflow.train.run import train_and_evaluate

    params = {"name": ["pmemo", "emomusic"], "roots": {"pmemo": str(shared / "PMEmo2019"),
                                                      "emomusic": str(shared / "emoMusic")}}
    prepared = prepare_dataset(params, work / "prepared")
    decode_dataset(work / "prepared", work / "audio.h5", work / "errors.csv", sample_rate="auto")
    extract_store(name="chroma", config={}, grid={"win_s": 1.0, "hop_s": 0.5}, audio_path=work / "audio.h5",
                  prepared_dir=work / "prepared", out_path=work / "chroma.h5", dataset=prepared.name, workers=1)
    for weight in (0.0, 0.5):
        out = work / f"multitask-w{weight}"
        t = time.time()
        metrics = train_and_evaluate(store_path=work / "chroma.h5", prepared_dir=work / "prepared",
                                     feature_set="chroma", model_name="multitask",
                                     model_config={"distill": {"weight": weight, "temperature": 2.0}},
                                     protocol={"kind": "kfold", "folds": 2}, seed=0, out_dir=out,
                                     min_train=3, min_test=1, jobs=1, importance={"repeats": 0})
        print(f"distill.weight {weight} ({time.time() - t:.0f} s):")
        for section in ("datasets", "teachers"):
            for member, m in (metrics.get(section) or {}).items():
                static = m.get("static") or {}
                print(f"  {section:8s} {member:9s} " + ", ".join(
                    f"{t} R² {v.get('r2')!s:.6} (n {v.get('n_tracks')})" for t, v in static.items()) or json.dumps(m))


def synthetic() -> None:
    from tests.test_distill import transfer

    for seed in (0, 1, 2):
        t = time.time()
        s = transfer(seed, with_joint=True)
        print(f"seed {seed}: held-out valence R² of the small dataset: own model {s['single']:.3f}, "
              f"joint without distillation {s['joint']:.3f}, distilled student {s['student']:.3f} "
              f"({time.time() - t:.0f} s)")


if __name__ == "__main__":
    shared = Path(os.environ.get("MOODFLOW_SHARED_DATA", "../shared/data"))
    if "--skip-layouts" not in sys.argv:
        with tempfile.TemporaryDirectory() as tmp:
            layouts(shared, Path(tmp))
    synthetic()
