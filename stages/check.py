"""DVC stage `check`: all of params.yaml against the typed settings, before any other stage.

Every key of every section and every listed name is checked (as `moodflow check` does), so a
typo — `dvc exp run -S +train.svm.c=3`, `features.sets: [egemap]` — ends here in moodflow's
one-line message with a suggestion, before prepare, instead of in a later stage or in DVC's
"Parameters … are missing". The marker it writes is a constant text: passing the check never
makes another stage re-run.
"""

import argparse

from moodflow.check.validate import check_params
from moodflow.core.params import load_params
from moodflow.core.stage import run_stage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", help="marker file written when the check passes")
    args = parser.parse_args()
    check_params(load_params().to_dict(), args.out)


if __name__ == "__main__":
    run_stage(main)
