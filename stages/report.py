"""DVC stage `report`: reports/metrics.json (and the comparison with published numbers)."""

from moodflow.logs import setup_logging
from moodflow.params import load_params
from moodflow.report import write_report

if __name__ == "__main__":
    setup_logging()
    params = load_params()
    write_report(params, models_dir="models", reports_dir="reports")
