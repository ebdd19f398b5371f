"""`lamina.applications.resnet50`: Keras's alias module for ResNet50."""

from lamina.applications.resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "decode_predictions", "preprocess_input"]
