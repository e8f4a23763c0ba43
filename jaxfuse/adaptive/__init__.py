"""Beyond the paper: per-image A and B for Eq. 1, chosen by gradient on a no-reference criterion.

``criterion.py`` is the criterion (pure JAX, planes ``[..., H, W]``); ``fuse.py`` the optimisation
and the compiled, batched fusion (:func:`fuse_adaptive`), registered as the method
``vgg19_adaptive`` in :data:`jaxfuse.methods.METHODS`.
"""

from jaxfuse.adaptive.criterion import content_criterion, gradient_term, intensity_term
from jaxfuse.adaptive.fuse import (
    DEFAULT_BOUNDS,
    DEFAULT_GRADIENT_WEIGHT,
    DEFAULT_LEARNING_RATE,
    DEFAULT_STEPS,
    AdaptiveFusion,
    choose_weights,
    fuse_adaptive,
)

__all__ = [
    "DEFAULT_BOUNDS",
    "DEFAULT_GRADIENT_WEIGHT",
    "DEFAULT_LEARNING_RATE",
    "DEFAULT_STEPS",
    "AdaptiveFusion",
    "choose_weights",
    "content_criterion",
    "fuse_adaptive",
    "gradient_term",
    "intensity_term",
]
