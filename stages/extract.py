"""DVC stage `extract@<set>`: one feature store, features/<set>.h5."""

import sys

from moodflow.extraction import extract_store
from moodflow.logs import setup_logging
from moodflow.params import load_params

if __name__ == "__main__":
    setup_logging()
    name = sys.argv[1]
    params = load_params()
    features = params["features"]
    extract_store(
        name=name,
        config=features.get(name) or {},
        grid=features.get("grid") or {},
        audio_path="data/audio.h5",
        prepared_dir="data/prepared",
        out_path=f"features/{name}.h5",
        dataset=params["dataset"]["name"],
        workers=int(features.get("workers", 0)),
    )
