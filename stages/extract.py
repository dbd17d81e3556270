"""DVC stage `extract@<set>`: one feature store.

``features.cache_dir`` (default ``.cache/moodflow``, git-ignored, outside DVC's outputs) holds
the per-track cache that makes re-runs incremental and resumable; ``features.executor``,
``features.scheduler``, ``features.cluster`` and ``features.slurm`` pick local cores, a Dask
scheduler or Slurm jobs (docs/cluster.md). None of them changes the store's values.
"""

import argparse

from moodflow.core.config import build_from
from moodflow.core.params import load_params
from moodflow.core.stage import run_stage
from moodflow.extract.run import extract_store
from moodflow.extract.settings import ExtractSettings
from moodflow.stores.labelspace import experiment_name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("set", help="feature set (features.<set> in params.yaml)")
    parser.add_argument("prepared", help="prepared folder (data/prepared)")
    parser.add_argument("audio", help="audio store (data/audio.h5)")
    parser.add_argument("out", help="feature store to write (features/<set>.h5)")
    parser.add_argument("failures", help="CSV of the tracks whose extraction failed, with the reason")
    args = parser.parse_args()
    params = load_params()
    features = params["features"]
    settings = build_from(ExtractSettings, features, "features")
    extract_store(
        name=args.set, config=features[args.set].to_dict(), grid=settings.grid, audio_path=args.audio,
        prepared_dir=args.prepared, out_path=args.out, dataset=experiment_name(params["dataset"]["name"]),
        workers=settings.workers, cache_dir=settings.cache_dir or None, executor=settings.executor,
        scheduler=settings.scheduler, cluster=settings.cluster, slurm=settings.slurm, failures_path=args.failures,
    )


if __name__ == "__main__":
    run_stage(main)
