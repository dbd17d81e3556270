"""The user-facing layer over a trained model (not a DVC stage): the predictor and its Python API
(``predict``), input expansion (``inputs``), zero-shot mood tags (``mood``), output formats
(``output``), model bundles (``bundle``) and the HEAR-style embedding API (``hear``).
``moodflow.cli`` and the public face (``moodflow/__init__.py``) use them; no stage imports them."""
