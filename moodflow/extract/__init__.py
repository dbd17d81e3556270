"""Stage ``extract@<set>``: one extractor over every decoded track → ``features/<set>.h5``
(per-track cache, local processes or Dask workers)."""
