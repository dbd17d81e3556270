"""DVC stage `prepare`: dataset adapter → the prepared folder (manifest, labels, splits)."""

import argparse

from moodflow.core.params import load_params
from moodflow.core.stage import run_stage
from moodflow.prepare.run import prepare_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="prepared folder to write (data/prepared)")
    args = parser.parse_args()
    prepare_dataset(load_params()["dataset"], args.out)


if __name__ == "__main__":
    run_stage(main)
