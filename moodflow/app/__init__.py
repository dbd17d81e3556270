"""The user-facing layer over a trained model (not a DVC stage): input expansion (``inputs``),
zero-shot mood tags (``mood``), output formats (``output``) and model bundles (``bundle``).
``moodflow.predict`` and ``moodflow.cli`` use them; no stage imports them."""
