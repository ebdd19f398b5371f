"""AugMix: blend the image with a random mix of augmentation chains."""

import random as py_random

import torch

from lamina import random
from lamina.layers.preprocessing._base_image_layer import (
    KEPT,
    BaseImagePreprocessingLayer,
    check_value_range,
)
from lamina.layers.preprocessing.rand_augment import (
    make_augment_layers,
    sublayer_kwargs,
)

# Keras's lists and order.
_AUGMENT_LAYERS = (
    "random_shear",
    "random_translation",
    "random_rotation",
    "random_posterization",
    "solarization",
    "auto_contrast",
    "equalization",
)
_COLOUR_LAYERS = (
    "random_brightness",
    "random_color_degeneration",
    "random_contrast",
    "random_sharpness",
)


class AugMix(BaseImagePreprocessingLayer):
    """Mixes each batch with augmented copies of itself while training
    (AugMix, Hendrycks et al., 2020).

    `num_chains` chains each apply up to `chain_depth` augmentations, every
    step picking one of the candidates or nothing (uniformly); the chains'
    outputs are averaged with Dirichlet(`alpha`) weights, and the result is
    blended with the input by a Beta(`alpha`, `alpha`) weight `w` as
    `w * images + (1 - w) * mix`, clipped to `value_range`. The candidates are
    RandomShear, RandomTranslation, RandomRotation, RandomPosterization,
    Solarization, AutoContrast and Equalization, plus (with `all_ops`)
    RandomBrightness, RandomColorDegeneration, RandomContrast and
    RandomSharpness, all built from the strength range `factor` as in Keras 3.
    The picks come from a Python `random.Random` seeded with `seed` (Keras
    uses the unseeded global one), so a seed reproduces them.

    Args:
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        num_chains: Number of augmentation chains. Defaults to 3.
        chain_depth: Most augmentations per chain. Defaults to 3.
        factor: The strength: a number `f` (range `[0, f]`) or a pair
            `(lower, upper)`, within `[0, 1]`. Defaults to 0.3.
        alpha: Concentration of the Dirichlet and Beta draws. Defaults to 1.
        all_ops: Whether the four colour augmentations are candidates too.
            Defaults to `True`.
        interpolation: `"bilinear"` (default) or `"nearest"`, for the
            geometric augmentations.
        seed: Int seed for reproducible picks and parameters.
        data_format: `"channels_last"` (default) or `"channels_first"`.

    Input `(batch, H, W, C)` or `(H, W, C)`; output the same shape in the
    compute dtype. At inference the input is returned (cast) unchanged.

    Example:
    >>> layer = lamina.layers.AugMix(seed=1)
    >>> tuple(layer(np.ones((2, 8, 8, 3), "float32"), training=True).shape)
    (2, 8, 8, 3)
    """

    # Keras: AugMix returns labels and boxes as they came.
    _DICT_PARTS = {"labels": KEPT, "bounding_boxes": KEPT}
    _COMPUTE_DTYPE_PARTS = ("segmentation_masks",)
    _FACTOR_BOUNDS = (0, 1)

    def __init__(
        self,
        value_range=(0, 255),
        num_chains=3,
        chain_depth=3,
        factor=0.3,
        alpha=1.0,
        all_ops=True,
        interpolation="bilinear",
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(factor=factor, data_format=data_format, **kwargs)
        for arg, value in (("num_chains", num_chains), ("chain_depth", chain_depth)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"AugMix expects `{arg}` to be a positive int; got {arg}={value!r}."
                )
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(
                "AugMix expects `alpha` to be a positive number (the Dirichlet "
                f"and Beta concentration); got alpha={alpha!r}."
            )
        self.value_range = check_value_range("AugMix", value_range)
        self.num_chains = num_chains
        self.chain_depth = chain_depth
        self.alpha = alpha
        self.all_ops = bool(all_ops)
        self.interpolation = interpolation
        self.seed = seed
        self.generator = random.SeedGenerator(seed)
        # Keras picks chain steps with Python's global `random` (repeatable
        # after set_random_seed); a seeded layer keeps its own, so that its
        # seed alone fixes them.
        self._chooser = None if seed is None else py_random.Random(seed)
        self._augment_layers = _AUGMENT_LAYERS + (_COLOUR_LAYERS if all_ops else ())
        augmenters = make_augment_layers(
            "AugMix",
            self.factor,
            self.value_range,
            interpolation,
            seed,
            **sublayer_kwargs(self.data_format, kwargs),
        )
        for name in self._augment_layers:
            setattr(self, name, augmenters[name])

    def get_random_transformation(self, data, training=True, seed=None):
        if not training or data.device.type == "meta":
            return None
        seed = self.generator if seed is None else seed
        # Keras's draws, in its order: chain weights, blend weight, the chains.
        gamma = random.gamma((self.num_chains,), self.alpha, seed=seed)
        chain_weights = gamma / gamma.sum(dim=-1, keepdim=True)
        blend = random.beta((), self.alpha, self.alpha, seed=seed)
        choices = list(self._augment_layers) + [None]
        chains = []
        for _ in range(self.num_chains):
            steps = []
            for _ in range(self.chain_depth):
                name = (self._chooser or py_random).choice(choices)
                if name is None:
                    continue
                layer = getattr(self, name)
                steps.append(
                    {
                        "layer_name": name,
                        "transformation": layer.get_random_transformation(
                            data, seed=seed
                        ),
                    }
                )
            chains.append(steps)
        return {
            "chain_mixing_weights": chain_weights,
            "weight_sample": blend,
            "chain_transforms": chains,
        }

    def transform_images(self, images, transformation, training=True):
        dtype = self._compute_torch_dtype
        images = images.to(dtype)
        if not training or transformation is None:
            return images
        weights = transformation["chain_mixing_weights"].to(images.device, dtype)
        blend = transformation["weight_sample"].to(images.device, dtype)
        mix = torch.zeros_like(images)
        for index, chain in enumerate(transformation["chain_transforms"]):
            augmented = images
            for step in chain:
                layer = getattr(self, step["layer_name"])
                augmented = layer.transform_images(augmented, step["transformation"])
            mix = mix + augmented.to(dtype) * weights[index]
        images = blend * images + (1 - blend) * mix
        return images.clamp(self.value_range[0], self.value_range[1]).to(dtype)

    def transform_segmentation_masks(
        self, segmentation_masks, transformation, training=True
    ):
        """Masks through the same chains (geometric steps with nearest
        interpolation, colour steps leave them), mixed and blended with the
        images' weights, in the compute dtype."""
        dtype = self._compute_torch_dtype
        masks = segmentation_masks.to(dtype)
        if not training or transformation is None:
            return masks
        weights = transformation["chain_mixing_weights"].to(masks.device, dtype)
        blend = transformation["weight_sample"].to(masks.device, dtype)
        mix = torch.zeros_like(masks)
        for index, chain in enumerate(transformation["chain_transforms"]):
            augmented = masks
            for step in chain:
                layer = getattr(self, step["layer_name"])
                augmented = layer.transform_segmentation_masks(
                    augmented, step["transformation"]
                )
            mix = mix + augmented.to(dtype) * weights[index]
        return blend * masks + (1 - blend) * mix

    def get_config(self):
        return {
            **super().get_config(),
            "value_range": self.value_range,
            "num_chains": self.num_chains,
            "chain_depth": self.chain_depth,
            "factor": self.factor,
            "alpha": self.alpha,
            "all_ops": self.all_ops,
            "interpolation": self.interpolation,
            "seed": self.seed,
        }
