"""DVC stage `limits`: every limit the training protocol will hit, said before any audio is decoded.

A run that would score nothing stops here with one message naming each limit and the settings
that avoid it, unless ``train.on_insufficient: extract``; the marker it writes is constant, so
changing the ``train`` settings it reads never re-runs decode.
"""

import argparse

from moodflow.core.config import build_from
from moodflow.core.params import load_params
from moodflow.core.stage import run_stage
from moodflow.train.limits import LIMIT_KEYS, check_limits
from moodflow.train.settings import TrainSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("prepared", help="prepared folder (data/prepared)")
    parser.add_argument("out", help="marker file written when the run may go on")
    args = parser.parse_args()
    params = load_params()
    settings = build_from(TrainSettings, params["train"], "train", only=LIMIT_KEYS)
    check_limits(args.prepared, settings, params["features"]["sets"], args.out)


if __name__ == "__main__":
    run_stage(main)
