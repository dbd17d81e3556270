"""Stage ``decode``: every track of the manifest decoded once into ``data/audio.h5``."""
