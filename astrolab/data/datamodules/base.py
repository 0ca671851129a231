"""``AstroDataModule``: the parts of the data-module protocol every data module shares.

The runs rely on: ``data_kind`` (batch layout a model family reads), ``batch_keys`` (where a batch holds
the targets, split masks and ids: the data's batch contract, passed to the task by the build step),
``num_features``/``num_classes``
(sizes that flow into the model), ``task_kwargs()`` (what the task needs to know about the data),
``preprocessing()`` (plain data saved in checkpoints), ``targets(split)``, ``describe()``,
``index_table()`` and the four loaders, built here from one ``_loader(split, shuffle)`` hook.

Predictions (the data contract): every batch carries, next to its target, an int64 ``index`` per object
that addresses a row of :meth:`index_table` (exact ids, the row in the input file, the split and the
label as read). ``predict_dataloader`` yields the objects of ``predict_split``; the run joins the
model's predictions to ``index_table()`` through ``index``. A data module never runs a model.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import lightning as L

log = logging.getLogger(__name__)


class AstroDataModule(L.LightningDataModule):
    """Base of astrolab's data modules (subclasses set the attributes used below in ``setup``)."""

    data_kind: ClassVar[str] = ""
    #: The batch contract, declared once per data module class: ``target`` (where the targets are),
    #: ``mask`` (per-split masks with ``{stage}`` replaced by train/val/test, a per-batch selection mask,
    #: or ``None`` when a batch holds one split only) and ``id`` (the exact ids of the predicted objects).
    batch_keys: ClassVar[dict[str, tuple[str, ...] | None]] = {}
    #: Data modules that build one of several targets: the keys that change with that choice
    #: (``{choice: {key: ...}}``); :meth:`use_target_keys` applies one to the instance.
    batch_keys_by_target: ClassVar[dict[str, dict[str, tuple[str, ...] | None]]] = {}
    #: data modules that take the model's ``tiling_hints`` (``num_hops``, ``activation_floats``) from the run
    takes_model_hints: ClassVar[bool] = False

    @property
    def num_features(self) -> int:
        return len(self.feature_names)

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 1

    def target_label(self) -> str | None:
        """Name of the predicted quantity in reports."""
        return self.target

    def task_kwargs(self) -> dict[str, Any]:
        """Classification: class count, names and weights; otherwise the target's standardisation."""
        if self.task_kind == "classification":
            return {"num_classes": self.num_classes, "class_names": self.class_names,
                    "class_weights": self.class_weights}
        return {"target_mean": self.target_stats["mean"], "target_std": self.target_stats["std"],
                "target_name": self.target_label()}

    def model_inputs(self) -> dict[str, Any]:
        """Model sizes beyond ``num_features`` (e.g. ``num_object_features``); none by default."""
        return {}

    def augmentation_inputs(self) -> dict[str, Any]:
        """Data statistics that train-time augmentations ask for with ``auto`` (e.g. ``dt_scale``); none by
        default."""
        return {}

    def baseline_features(self, split: str):
        """Per-object (per-row) tabular features of a split, rows in the order of ``targets(split)``, for the
        feature baseline (``baseline_features/…`` in summary.json); ``None``: this data has none."""
        return None

    #: the split ``predict_dataloader`` yields (the run sets it; ``test`` by default)
    predict_split: str = "test"

    def use_target_keys(self, choice: str) -> None:
        """This instance's batch keys: the class's ``batch_keys`` updated with ``batch_keys_by_target[choice]``."""
        self.batch_keys = {**type(self).batch_keys, **self.batch_keys_by_target[choice]}  # type: ignore[misc]

    def use_fixed(self, fixed: dict[str, Any] | None, evaluate_all: bool, predict_all: bool = False) -> None:
        """Keep the constructor's ``fixed`` preprocessing (from a trained model's checkpoint: nothing is
        refitted when given), ``evaluate_all`` (test on every labelled row of another file) and
        ``predict_all`` (apply a model: every row that passes the cuts is scored, no label needed)."""
        self.predict_all = bool(predict_all)
        self.fixed = dict(fixed or {})
        self.fixed_class_names = list(self.fixed["class_names"]) if self.fixed.get("class_names") else None
        self.fixed_target_stats = self.fixed.get("target_stats")
        self.evaluate_all = evaluate_all

    # -- shared steps ------------------------------------------------------------------------------
    def cached_build(self, kind: str, key: str, source: str | None = None, checksum: str | None = None,
                     mmap: bool = False):
        """The prepared TensorDict and its metadata from the verified on-disk cache, or built by
        ``self._build()`` and cached; ``meta["cache"]`` says which. ``source`` is the file actually passed:
        the entry records the file it was built from, and on a hit ``meta["info"]["path"]`` names ``source``
        (another file with the same bytes may have built the entry). ``mmap``: a hit's arrays stay
        memory-mapped on disk (verified as they are read in chunks, never loaded whole)."""
        from astrolab.data.cache import load_cached, save_cached

        cached = load_cached(self.cache_dir, kind, key, mmap=mmap) if self.use_cache else None
        if cached is None:
            td, meta = self._build()
            if self.use_cache:
                save_cached(self.cache_dir, kind, key, td, meta, source={"path": source, "checksum": checksum})
            meta["cache"] = "built"
        else:
            td, meta = cached
            meta["cache"] = "hit"
            built_from = (meta.get("cache_entry", {}).get("built_from") or {}).get("path")
            if source is not None:
                if built_from and built_from != source:
                    log.info("cache entry built from %s reused for %s (identical bytes)", built_from, source)
                meta.setdefault("info", {})["path"] = source
        return td, meta

    def fit_scaler(self, ref, feature_names: list[str], fixed_key: str = "scaler", ddof: int = 0,
                   min_std: float = 0.0, hint: str = "") -> dict[str, Any]:
        """Feature standardisation ``{feature_names, mean, std}``: the checkpoint's scaler stored under
        ``fixed_key`` (its feature names must match) when evaluating, else the column mean
        and standard deviation (``ddof``) of ``ref`` (rows × features, NumPy or torch), a spread of at most
        ``min_std`` replaced by 1."""
        import numpy as np

        from astrolab.errors import DataError

        fixed = self.fixed.get(fixed_key)
        if fixed is not None:
            if list(fixed["feature_names"]) != list(feature_names):
                raise DataError(f"the checkpoint's features {fixed['feature_names']} differ from this data's "
                                f"{list(feature_names)}{hint}")
            return dict(fixed)
        ref = np.asarray(ref, dtype=np.float64)
        mean, std = ref.mean(0), ref.std(0, ddof=ddof)
        std = np.where(std > min_std, std, 1.0)
        return {"feature_names": list(feature_names), "mean": mean.tolist(), "std": std.tolist()}

    def fit_target_stats(self, y_train) -> dict[str, float]:
        """Regression target standardisation: the checkpoint's when evaluating, else the training split's
        mean and standard deviation (``{mean: 0, std: 1}`` when the split is empty)."""
        if self.fixed_target_stats is not None:
            return dict(self.fixed_target_stats)
        if len(y_train):
            return {"mean": float(y_train.mean()), "std": float(y_train.std().clamp(min=1e-12))}
        return {"mean": 0.0, "std": 1.0}

    def has_index_table(self) -> bool:
        """Whether predictions of this data module go through :meth:`index_table`."""
        return type(self).index_table is not AstroDataModule.index_table

    def index_table(self):
        """One row per predicted object, addressed by the batches' ``index`` key (data modules override)."""
        raise NotImplementedError(f"{type(self).__name__} has no index table")

    def add_true_column(self, table, y) -> None:
        """``true``: the class name (``""`` where unlabelled) or the value as read, into an index table."""
        import numpy as np

        y = y.numpy() if hasattr(y, "numpy") else np.asarray(y)
        if self.task_kind == "classification" and self.class_names:
            names = np.asarray(list(self.class_names) + [""])
            table["true"] = names[np.where(y >= 0, y, len(self.class_names))]
        else:
            table["true"] = y

    # -- loaders -----------------------------------------------------------------------------------
    def _loader(self, split: str, shuffle: bool):
        raise NotImplementedError

    def train_dataloader(self):
        return self._loader("train", True)

    def val_dataloader(self):
        return self._loader("val", False)

    def test_dataloader(self):
        return self._loader("test", False)

    def predict_dataloader(self):
        return self._loader(self.predict_split, False)
