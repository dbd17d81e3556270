"""musicnn taggers: the packaged TensorFlow checkpoints read without TensorFlow (``checkpoint``),
a PyTorch port of the networks (``network``), tag vocabularies (``tags``) and the extractor
registered as ``musicnn`` (``extractor``)."""
