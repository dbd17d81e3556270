"""moodflow: a reproducible music-emotion-recognition pipeline and feature store."""

__version__ = "0.1.0"
