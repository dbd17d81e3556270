"""DVC stage `extract@<set>`: one feature store, features/<set>.h5.

``features.cache_dir`` (default ``.cache/moodflow``, git-ignored, outside DVC's outputs) holds
the per-track cache that makes re-runs incremental and resumable; ``features.executor`` and
``features.scheduler`` pick local cores or Dask. None of the three changes the store's values,
so they are not params of the stage.
"""

import sys

from moodflow.extraction import extract_store
from moodflow.logs import setup_logging
from moodflow.params import load_params

if __name__ == "__main__":
    setup_logging()
    name = sys.argv[1]
    params = load_params()
    features = params["features"]
    cache_dir = features.get("cache_dir", ".cache/moodflow")
    extract_store(
        name=name,
        config=features.get(name) or {},
        grid=features.get("grid") or {},
        audio_path="data/audio.h5",
        prepared_dir="data/prepared",
        out_path=f"features/{name}.h5",
        dataset=params["dataset"]["name"],
        workers=int(features.get("workers", 0)),
        cache_dir=cache_dir or None,
        executor=features.get("executor") or "local",
        scheduler=features.get("scheduler") or "",
    )
