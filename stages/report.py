"""DVC stage `report`: reports/metrics.json and the comparison with published numbers."""

import argparse

from moodflow.core.params import load_params
from moodflow.core.stage import run_stage
from moodflow.report.run import write_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("models", help="folder of the model folders (models)")
    parser.add_argument("reports", help="folder to write the reports into (reports)")
    args = parser.parse_args()
    write_report(load_params(), models_dir=args.models, reports_dir=args.reports)


if __name__ == "__main__":
    run_stage(main)
