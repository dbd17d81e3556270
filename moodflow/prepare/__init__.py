"""Stage ``prepare``: a dataset adapter → ``data/prepared`` (manifest, labels, splits)."""
