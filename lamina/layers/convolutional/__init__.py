"""Convolution layers: Conv1D/2D/3D, separable, depthwise and transposed."""
