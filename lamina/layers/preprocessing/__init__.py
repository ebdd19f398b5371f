"""Preprocessing layers: normalization, rescaling, image resizing and augmentation,
lookups and text vectorization."""
