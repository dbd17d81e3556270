"""The reference musicnn: the packaged TensorFlow code and checkpoints, run in their own process.

Run with the reference interpreter (``.venv/reference/bin/python``, built by ``make test``:
``tensorflow-cpu`` + ``tf-keras`` beside the project's packages; TensorFlow never shares a
process with torch). Two changes to the packaged ``musicnn.extractor``, both needed for correct
values and nothing else:

1. ``batch_data`` computes the log-mel in **float32**: the packaged code casts the mel
   spectrogram to float16 before ``log10(10000·mel + 1)``, which overflows on loud music (NaN
   taggrams); its source is taken from the installed package and only ``np.float16`` is
   replaced.
2. ``configuration.BATCH_SIZE`` is raised so that all patches go through one ``sess.run``: the
   packaged loop over further batches re-uses the *first* batch's ``penultimate`` and ``cnn1-3``
   (``features['penultimate'] = np.concatenate((..., penultimate_))`` where ``penultimate_`` is
   never reassigned), so every patch after the first would repeat patch 0.

``python musicnn_reference.py OUT.npz --models MSD_musicnn,MSD_vgg --audio a.wav b.wav
[--checkpoints] [--repeat N] [--pairs MODEL:I …]`` writes per model and file ``<model>/<i>/taggram`` (P, 50),
``<model>/<i>/penultimate`` (P, 200; VGG: pool5 flattened, (P, 256)), ``max_pool`` and
``mean_pool`` (musicnn), ``<model>/<i>/seconds`` (the last run's wall time, graph built), and
with ``--checkpoints`` ``ckpt/<model>`` = JSON {variable: sha256 of its float32/int64 bytes}
read by TensorFlow's checkpoint reader.
"""

from __future__ import annotations

import argparse
import hashlib
import inspect
import json
import os
import sys
import time
import warnings

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Keras 3 lacks tf.compat.v1.layers.batch_normalization
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402


def fixed_extractor():
    """``musicnn.extractor`` with the two fixes above applied."""
    from musicnn import extractor as ex

    source = inspect.getsource(ex.batch_data)
    if source.count("np.float16") != 1:
        raise SystemExit("musicnn.extractor.batch_data changed: expected one float16 cast to fix")
    exec(compile(source.replace("np.float16", "np.float32"), ex.__file__, "exec"), ex.__dict__)  # noqa: S102
    ex.config.BATCH_SIZE = 10**9
    return ex


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--models", required=True)
    parser.add_argument("--audio", nargs="*", default=[])
    parser.add_argument("--checkpoints", action="store_true")
    parser.add_argument("--repeat", type=int, default=1, help="runs per file (timing: the last one counts)")
    parser.add_argument("--pairs", nargs="*", default=None,
                        help="MODEL:I pairs to run (default: every model on every file)")
    args = parser.parse_args(argv)
    ex = fixed_extractor()
    out: dict[str, np.ndarray] = {}
    for model in args.models.split(","):
        for i, path in enumerate(args.audio):
            if args.pairs is not None and f"{model}:{i}" not in args.pairs:
                continue
            for _ in range(max(1, args.repeat)):
                t0 = time.perf_counter()
                with open(os.devnull, "w") as quiet:
                    stdout, sys.stdout = sys.stdout, quiet
                    try:
                        taggram, _, feats = ex.extractor(path, model=model, extract_features=True)
                    finally:
                        sys.stdout = stdout
                seconds = time.perf_counter() - t0
            out[f"{model}/{i}/taggram"] = np.asarray(taggram, np.float32)
            out[f"{model}/{i}/seconds"] = np.float64(seconds)
            if "pool5" in feats:  # (P, 2, 1, 128) squeezed: flatten as the network does
                out[f"{model}/{i}/penultimate"] = np.asarray(feats["pool5"], np.float32).reshape(len(taggram), -1)
            else:
                for key in ("penultimate", "max_pool", "mean_pool"):
                    out[f"{model}/{i}/{key}"] = np.asarray(feats[key], np.float32).reshape(len(taggram), -1)
        if args.checkpoints:
            import tensorflow as tf

            # the prefix saver.restore uses (the packaged `checkpoint` file names the author's machine)
            reader = tf.compat.v1.train.NewCheckpointReader(os.path.join(os.path.dirname(ex.__file__), model) + "/")
            digests = {name: hashlib.sha256(np.ascontiguousarray(reader.get_tensor(name)).tobytes()).hexdigest()
                       for name in reader.get_variable_to_shape_map()}
            out[f"ckpt/{model}"] = np.array(json.dumps(digests, sort_keys=True))
    if "torch" in sys.modules:
        raise SystemExit("torch was imported into the TensorFlow reference process")
    np.savez(args.out, **out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
