"""Compatibility alias: the losses live in :mod:`astrolab.tasks.losses` (tasks own their losses).

Kept so ``from astrolab.models.components.losses import FocalLoss`` still works; models may import tasks.
"""

from astrolab.tasks.losses import FocalLoss, HeteroscedasticGaussianNLL, PhotoZLoss, class_balanced_weights

__all__ = ["FocalLoss", "HeteroscedasticGaussianNLL", "PhotoZLoss", "class_balanced_weights"]
