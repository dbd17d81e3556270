"""DVC stage `decode`: every track decoded once into the audio store."""

import argparse

from moodflow.core.config import build
from moodflow.core.params import load_params
from moodflow.core.stage import run_stage
from moodflow.decode.run import decode_dataset
from moodflow.decode.settings import DecodeSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("prepared", help="prepared folder (data/prepared)")
    parser.add_argument("audio", help="audio store to write (data/audio.h5)")
    parser.add_argument("errors", help="CSV of tracks that could not be decoded")
    args = parser.parse_args()
    settings = build(DecodeSettings, load_params()["decode"].to_dict(), "decode")
    decode_dataset(args.prepared, args.audio, args.errors, sample_rate=settings.sample_rate,
                   on_error=settings.on_error, min_duration_s=settings.min_duration_s,
                   cache_dir=settings.cache_dir or None)


if __name__ == "__main__":
    run_stage(main)
