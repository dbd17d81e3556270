"""DVC stages `train@<set>-<model>` and `train_combined@<base>-<add>-<model>` (set `<base>+<add>`,
stores joined by track id): one model folder (model, predictions, metrics)."""

import argparse

from moodflow.core.config import build_from
from moodflow.core.params import load_params
from moodflow.core.stage import run_stage
from moodflow.train.run import train_and_evaluate
from moodflow.train.settings import STAGE_KEYS, TrainSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("set", help="feature set, or a combined set <base>+<add>")
    parser.add_argument("model", help="model (train.<model> in params.yaml)")
    parser.add_argument("prepared", help="prepared folder (data/prepared)")
    parser.add_argument("store", help="feature store (features/<set>.h5)")
    parser.add_argument("out", help="model folder to write (models/<set>/<model>)")
    parser.add_argument("--join", action="append", default=[], metavar="STORE",
                        help="the next part's store of a combined set (features/<add>.h5), once per part")
    args = parser.parse_args()
    train = load_params()["train"]
    settings = build_from(TrainSettings, train, "train", only=STAGE_KEYS)
    if args.join:  # a combined set: how its stores are weighted (train.combine.block_weight)
        settings.combine.block_weight = train.get("combine", {}).get("block_weight", "none")
    train_and_evaluate(
        store_path=[args.store, *args.join], prepared_dir=args.prepared, feature_set=args.set, model_name=args.model,
        model_config=train[args.model].to_dict(), settings=settings, out_dir=args.out,
    )


if __name__ == "__main__":
    run_stage(main)
