"""lamina.layers: the Keras layers, each a torch.nn.Module."""

from lamina.layers.activations.elu import ELU
from lamina.layers.activations.leaky_relu import LeakyReLU
from lamina.layers.activations.prelu import PReLU
from lamina.layers.activations.relu import ReLU
from lamina.layers.activations.softmax import Softmax
from lamina.layers.attention.additive_attention import AdditiveAttention
from lamina.layers.attention.attention import Attention
from lamina.layers.attention.grouped_query_attention import (
    GroupedQueryAttention,
    GroupQueryAttention,
)
from lamina.layers.attention.multi_head_attention import MultiHeadAttention
from lamina.layers.convolutional.conv1d import Conv1D
from lamina.layers.convolutional.conv1d_transpose import Conv1DTranspose
from lamina.layers.convolutional.conv2d import Conv2D
from lamina.layers.convolutional.conv2d_transpose import Conv2DTranspose
from lamina.layers.convolutional.conv3d import Conv3D
from lamina.layers.convolutional.conv3d_transpose import Conv3DTranspose
from lamina.layers.convolutional.depthwise_conv1d import DepthwiseConv1D
from lamina.layers.convolutional.depthwise_conv2d import DepthwiseConv2D
from lamina.layers.convolutional.separable_conv1d import SeparableConv1D
from lamina.layers.convolutional.separable_conv2d import SeparableConv2D
from lamina.layers.core.activation import Activation
from lamina.layers.core.dense import Dense
from lamina.layers.core.einsum_dense import EinsumDense
from lamina.layers.core.embedding import Embedding
from lamina.layers.core.flatten import Flatten
from lamina.layers.core.identity import Identity
from lamina.layers.core.input_layer import Input, InputLayer
from lamina.layers.core.lambda_layer import Lambda
from lamina.layers.core.masking import Masking
from lamina.layers.core.op_layer import OpLayer
from lamina.layers.core.reversible_embedding import ReversibleEmbedding
from lamina.layers.core.torch_module_wrapper import TorchModuleWrapper
from lamina.layers.core.wrapper import Wrapper
from lamina.layers.input_spec import InputSpec
from lamina.layers.layer import Layer
from lamina.layers.merging.concatenate import Concatenate, concatenate
from lamina.layers.merging.dot import Dot, dot
from lamina.layers.merging.elementwise import (
    Add,
    Average,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    maximum,
    minimum,
    multiply,
    subtract,
)
from lamina.layers.normalization.batch_normalization import BatchNormalization
from lamina.layers.normalization.group_normalization import GroupNormalization
from lamina.layers.normalization.layer_normalization import LayerNormalization
from lamina.layers.normalization.rms_normalization import RMSNormalization
from lamina.layers.normalization.spectral_normalization import SpectralNormalization
from lamina.layers.normalization.unit_normalization import UnitNormalization
from lamina.layers.pooling.adaptive_average_pooling import (
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
)
from lamina.layers.pooling.adaptive_max_pooling import (
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
)
from lamina.layers.pooling.average_pooling import (
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
)
from lamina.layers.pooling.global_average_pooling import (
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
)
from lamina.layers.pooling.global_max_pooling import (
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
)
from lamina.layers.pooling.max_pooling import MaxPooling1D, MaxPooling2D, MaxPooling3D
from lamina.layers.preprocessing.aug_mix import AugMix
from lamina.layers.preprocessing.auto_contrast import AutoContrast
from lamina.layers.preprocessing.category_encoding import CategoryEncoding
from lamina.layers.preprocessing.center_crop import CenterCrop
from lamina.layers.preprocessing.clahe import (
    ContrastLimitedAdaptiveHistogramEqualization,
)
from lamina.layers.preprocessing.cut_mix import CutMix
from lamina.layers.preprocessing.discretization import Discretization
from lamina.layers.preprocessing.equalization import Equalization
from lamina.layers.preprocessing.hashed_crossing import HashedCrossing
from lamina.layers.preprocessing.hashing import Hashing
from lamina.layers.preprocessing.integer_lookup import IntegerLookup
from lamina.layers.preprocessing.max_num_bounding_boxes import MaxNumBoundingBoxes
from lamina.layers.preprocessing.mel_spectrogram import MelSpectrogram
from lamina.layers.preprocessing.mix_up import MixUp
from lamina.layers.preprocessing.normalization import Normalization
from lamina.layers.preprocessing.pipeline import Pipeline
from lamina.layers.preprocessing.rand_augment import RandAugment
from lamina.layers.preprocessing.random_brightness import RandomBrightness
from lamina.layers.preprocessing.random_color_degeneration import (
    RandomColorDegeneration,
)
from lamina.layers.preprocessing.random_color_jitter import RandomColorJitter
from lamina.layers.preprocessing.random_contrast import RandomContrast
from lamina.layers.preprocessing.random_crop import RandomCrop
from lamina.layers.preprocessing.random_elastic_transform import (
    RandomElasticTransform,
)
from lamina.layers.preprocessing.random_erasing import RandomErasing
from lamina.layers.preprocessing.random_flip import RandomFlip
from lamina.layers.preprocessing.random_gaussian_blur import RandomGaussianBlur
from lamina.layers.preprocessing.random_grayscale import RandomGrayscale
from lamina.layers.preprocessing.random_hue import RandomHue
from lamina.layers.preprocessing.random_invert import RandomInvert
from lamina.layers.preprocessing.random_perspective import RandomPerspective
from lamina.layers.preprocessing.random_posterization import RandomPosterization
from lamina.layers.preprocessing.random_rotation import RandomRotation
from lamina.layers.preprocessing.random_saturation import RandomSaturation
from lamina.layers.preprocessing.random_sharpness import RandomSharpness
from lamina.layers.preprocessing.random_shear import RandomShear
from lamina.layers.preprocessing.random_translation import RandomTranslation
from lamina.layers.preprocessing.random_zoom import RandomZoom
from lamina.layers.preprocessing.rescaling import Rescaling
from lamina.layers.preprocessing.resizing import Resizing
from lamina.layers.preprocessing.solarization import Solarization
from lamina.layers.preprocessing.stft_spectrogram import STFTSpectrogram
from lamina.layers.preprocessing.string_lookup import StringLookup
from lamina.layers.preprocessing.text_vectorization import TextVectorization
from lamina.layers.regularization.activity_regularization import ActivityRegularization
from lamina.layers.regularization.alpha_dropout import AlphaDropout
from lamina.layers.regularization.dropout import Dropout
from lamina.layers.regularization.gaussian_dropout import GaussianDropout
from lamina.layers.regularization.gaussian_noise import GaussianNoise
from lamina.layers.regularization.spatial_dropout import (
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from lamina.layers.reshaping.cropping1d import Cropping1D
from lamina.layers.reshaping.cropping2d import Cropping2D
from lamina.layers.reshaping.cropping3d import Cropping3D
from lamina.layers.reshaping.permute import Permute
from lamina.layers.reshaping.repeat_vector import RepeatVector
from lamina.layers.reshaping.reshape import Reshape
from lamina.layers.reshaping.up_sampling1d import UpSampling1D
from lamina.layers.reshaping.up_sampling2d import UpSampling2D
from lamina.layers.reshaping.up_sampling3d import UpSampling3D
from lamina.layers.reshaping.zero_padding1d import ZeroPadding1D
from lamina.layers.reshaping.zero_padding2d import ZeroPadding2D
from lamina.layers.reshaping.zero_padding3d import ZeroPadding3D
from lamina.layers.rnn.bidirectional import Bidirectional
from lamina.layers.rnn.conv_lstm1d import ConvLSTM1D
from lamina.layers.rnn.conv_lstm2d import ConvLSTM2D
from lamina.layers.rnn.conv_lstm3d import ConvLSTM3D
from lamina.layers.rnn.gru import GRU, GRUCell
from lamina.layers.rnn.lstm import LSTM, LSTMCell
from lamina.layers.rnn.rnn import RNN
from lamina.layers.rnn.simple_rnn import SimpleRNN, SimpleRNNCell
from lamina.layers.rnn.stacked_rnn_cells import StackedRNNCells
from lamina.layers.rnn.time_distributed import TimeDistributed
from lamina.layers.serialization import deserialize, serialize

# Keras 3 aliases (the same classes under their other names).
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution1D, SeparableConvolution2D = SeparableConv1D, SeparableConv2D
MaxPool1D, MaxPool2D, MaxPool3D = MaxPooling1D, MaxPooling2D, MaxPooling3D
AvgPool1D, AvgPool2D, AvgPool3D = AveragePooling1D, AveragePooling2D, AveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D = GlobalMaxPooling1D, GlobalMaxPooling2D
GlobalMaxPool3D = GlobalMaxPooling3D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D

__all__ = [
    "Activation",
    "ActivityRegularization",
    "AdaptiveAveragePooling1D",
    "AdaptiveAveragePooling2D",
    "AdaptiveAveragePooling3D",
    "AdaptiveMaxPooling1D",
    "AdaptiveMaxPooling2D",
    "AdaptiveMaxPooling3D",
    "Add",
    "AdditiveAttention",
    "AlphaDropout",
    "Attention",
    "AugMix",
    "AutoContrast",
    "Average",
    "AveragePooling1D",
    "AveragePooling2D",
    "AveragePooling3D",
    "AvgPool1D",
    "AvgPool2D",
    "AvgPool3D",
    "BatchNormalization",
    "Bidirectional",
    "CategoryEncoding",
    "CenterCrop",
    "Concatenate",
    "ContrastLimitedAdaptiveHistogramEqualization",
    "Conv1D",
    "Conv1DTranspose",
    "Conv2D",
    "Conv2DTranspose",
    "Conv3D",
    "Conv3DTranspose",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "Convolution1D",
    "Convolution1DTranspose",
    "Convolution2D",
    "Convolution2DTranspose",
    "Convolution3D",
    "Convolution3DTranspose",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "CutMix",
    "Dense",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "Discretization",
    "Dot",
    "Dropout",
    "ELU",
    "EinsumDense",
    "Embedding",
    "Equalization",
    "Flatten",
    "GRU",
    "GRUCell",
    "GaussianDropout",
    "GaussianNoise",
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalAvgPool1D",
    "GlobalAvgPool2D",
    "GlobalAvgPool3D",
    "GlobalMaxPool1D",
    "GlobalMaxPool2D",
    "GlobalMaxPool3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
    "GroupNormalization",
    "GroupQueryAttention",
    "GroupedQueryAttention",
    "HashedCrossing",
    "Hashing",
    "Identity",
    "Input",
    "InputLayer",
    "InputSpec",
    "IntegerLookup",
    "LSTM",
    "LSTMCell",
    "Lambda",
    "Layer",
    "LayerNormalization",
    "LeakyReLU",
    "Masking",
    "MaxNumBoundingBoxes",
    "MaxPool1D",
    "MaxPool2D",
    "MaxPool3D",
    "MaxPooling1D",
    "MaxPooling2D",
    "MaxPooling3D",
    "Maximum",
    "MelSpectrogram",
    "Minimum",
    "MixUp",
    "MultiHeadAttention",
    "Multiply",
    "Normalization",
    "OpLayer",
    "PReLU",
    "Permute",
    "Pipeline",
    "RMSNormalization",
    "RNN",
    "RandAugment",
    "RandomBrightness",
    "RandomColorDegeneration",
    "RandomColorJitter",
    "RandomContrast",
    "RandomCrop",
    "RandomElasticTransform",
    "RandomErasing",
    "RandomFlip",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "RandomHue",
    "RandomInvert",
    "RandomPerspective",
    "RandomPosterization",
    "RandomRotation",
    "RandomSaturation",
    "RandomSharpness",
    "RandomShear",
    "RandomTranslation",
    "RandomZoom",
    "ReLU",
    "RepeatVector",
    "Rescaling",
    "Reshape",
    "Resizing",
    "ReversibleEmbedding",
    "STFTSpectrogram",
    "SeparableConv1D",
    "SeparableConv2D",
    "SeparableConvolution1D",
    "SeparableConvolution2D",
    "SimpleRNN",
    "SimpleRNNCell",
    "Softmax",
    "Solarization",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "SpectralNormalization",
    "StackedRNNCells",
    "StringLookup",
    "Subtract",
    "TextVectorization",
    "TimeDistributed",
    "TorchModuleWrapper",
    "UnitNormalization",
    "UpSampling1D",
    "UpSampling2D",
    "UpSampling3D",
    "Wrapper",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "add",
    "average",
    "concatenate",
    "deserialize",
    "dot",
    "maximum",
    "minimum",
    "multiply",
    "serialize",
    "subtract",
]
