"""Stage ``train@<set>-<model>``: cross-validate and fit one model on one store →
``models/<set>/<model>/``."""
