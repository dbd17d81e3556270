"""Code the tests share: generated inputs, miniature datasets, hostile files, pipeline trees."""
