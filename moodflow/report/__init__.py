"""Stage ``report``: ``reports/metrics.json`` and the comparison with published numbers."""
