"""DVC stage `decode`: every track decoded once into data/audio.h5."""

from moodflow.decoding import decode_dataset
from moodflow.logs import setup_logging
from moodflow.params import load_params

if __name__ == "__main__":
    setup_logging()
    params = load_params()
    cfg = params["decode"]
    decode_dataset(
        "data/prepared",
        "data/audio.h5",
        "data/decode_errors.csv",
        sample_rate=int(cfg["sample_rate"]),
        on_error=cfg.get("on_error", "skip"),
        min_duration_s=float(cfg.get("min_duration_s", 0.0)),
    )
