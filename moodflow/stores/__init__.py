"""The on-disk formats the stages hand to each other: the prepared dataset, the decoded-audio
store, the HDF5 feature store (the documented contract) and its frame grid."""
