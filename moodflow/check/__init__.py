"""Stage ``check`` and ``moodflow check``: params.yaml validated before any work runs."""
