"""MERT-v1 embeddings: loading without remote code, measured reduced precision, windowing
and a DataLoader stream (registered as ``mert`` by ``extractor``)."""
