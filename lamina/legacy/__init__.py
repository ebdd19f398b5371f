"""lamina.legacy: Keras's `keras.legacy` namespace, kept for code written
against tf.keras. Only `legacy.saving` has public names: Keras 2's
serializers, the same functions as `lamina.utils.legacy`."""

from lamina.legacy import saving as saving
