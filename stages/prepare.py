"""DVC stage `prepare`: dataset adapter → data/prepared (manifest, labels, splits)."""

from moodflow.logs import setup_logging
from moodflow.params import load_params
from moodflow.prepare import prepare_dataset

if __name__ == "__main__":
    setup_logging()
    prepare_dataset(load_params()["dataset"], "data/prepared")
