"""DVC stage `check`: the dataset, feature sets and models that params.yaml names exist.

It runs before every other stage, so a typo (`features.sets: [egemap]`) ends in moodflow's
one-line message with a suggestion instead of DVC's "Parameters … are missing".
"""

import argparse

from moodflow.check.names import check_names
from moodflow.core.params import load_params
from moodflow.core.stage import run_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="marker file written when the check passes")
    args = parser.parse_args()
    check_names(load_params(), args.out)


if __name__ == "__main__":
    run_stage(main)
