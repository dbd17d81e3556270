"""DVC stage `train@<set>-<model>`: models/<set>/<model>/ (model, predictions, metrics)."""

import sys

from moodflow.logs import setup_logging
from moodflow.params import load_params
from moodflow.training import train_and_evaluate

if __name__ == "__main__":
    setup_logging()
    feature_set, model = sys.argv[1], sys.argv[2]
    train = load_params()["train"]
    train_and_evaluate(
        store_path=f"features/{feature_set}.h5",
        prepared_dir="data/prepared",
        feature_set=feature_set,
        model_name=model,
        model_params=train.get(model) or {},
        protocol=train.get("protocol") or {},
        seed=int(train.get("seed", 0)),
        dynamic=bool(train.get("dynamic", False)),
        out_dir=f"models/{feature_set}/{model}",
    )
