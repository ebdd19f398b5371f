"""Pooling layers: windowed and global max / average pooling."""
