"""What validating params.yaml costs: pydantic's import, building the schemas, validating.

    python benchmarks/settings_validation.py [--repeats 7]

Runs against the moodflow first on ``sys.path`` (set ``PYTHONPATH`` to an older tree to measure
the hand-written validation it replaced) and prints one JSON line of seconds, each the
minimum over ``--repeats`` fresh processes (the machine is shared; the minimum is the least
disturbed run):

- ``import_pydantic``: ``import pydantic`` alone (what a stage that builds settings adds);
- ``first_build``: a fresh process's first ``build(GridConfig, …)`` after importing
  ``moodflow.core.config`` — the import of the validator plus one schema;
- ``validate_cold``: the first ``validate_params(params.yaml)`` once every settings class is
  imported: every schema built, every section validated;
- ``validate_warm``: a further ``validate_params`` (schemas cached), the mean of 20;
- ``check_stage``: the whole ``check`` stage process (``stages/check.py``), imports included.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import moodflow

ROOT = Path(moodflow.__file__).resolve().parents[1]  # the tree measured (PYTHONPATH picks it)

SNIPPETS = {
    "import_pydantic": "import time; t = time.perf_counter(); import pydantic; print(time.perf_counter() - t)",
    "first_build": (
        "import time; from moodflow.stores.grid import GridConfig; import moodflow.core.config as c\n"
        "t = time.perf_counter(); c.build(GridConfig, {'win_s': 2.0, 'hop_s': 1.0}, 'features.grid')\n"
        "print(time.perf_counter() - t)"),
    "validate": (
        "import time, yaml\n"
        "from moodflow.check.validate import validate_params\n"
        "from moodflow.datasets import DATASETS\nfrom moodflow.features import EXTRACTORS\nfrom moodflow.models import MODELS\n"
        "for reg in (DATASETS, EXTRACTORS, MODELS):\n    [reg.get(n) for n in reg.names()]\n"
        "params = yaml.safe_load(open({params!r}))\n"
        "t = time.perf_counter(); validate_params(params); cold = time.perf_counter() - t\n"
        "t = time.perf_counter()\nfor _ in range(20): validate_params(params)\n"
        "print(cold, (time.perf_counter() - t) / 20)"),
}


def _run(code: str, cwd: Path) -> list[float]:
    out = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, check=True)
    return [float(v) for v in out.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    params = str(ROOT / "params.yaml")
    times: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeats):
            times.setdefault("import_pydantic", []).append(_run(SNIPPETS["import_pydantic"], ROOT)[0])
            times.setdefault("first_build", []).append(_run(SNIPPETS["first_build"], ROOT)[0])
            cold, warm = _run(SNIPPETS["validate"].replace("{params!r}", repr(params)), ROOT)
            times.setdefault("validate_cold", []).append(cold)
            times.setdefault("validate_warm", []).append(warm)
            start = time.perf_counter()
            subprocess.run([sys.executable, str(ROOT / "stages" / "check.py"), str(Path(tmp) / "checked.txt")],
                           cwd=ROOT, check=True, capture_output=True)
            times.setdefault("check_stage", []).append(time.perf_counter() - start)
    print(json.dumps({"moodflow": str(ROOT), "repeats": args.repeats,
                      **{k: round(min(v), 4) for k, v in times.items()}}))


if __name__ == "__main__":
    main()
