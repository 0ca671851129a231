"""Model recycling between trials of one process.

Data preparation (reading the catalog, features, graph) runs once per dataset config and the prepared
DataModule is reused by every trial. A trial whose **architecture signature** — everything that changes
parameter shapes or the network's structure: the model config without its optimizer/scheduler, the
input width, the task (output size, loss) and the data — matches a model already built re-initialises
that model (``reset_parameters()``; ``clear_memory()`` when the model has it) and gets a fresh optimizer
from its own config, instead of allocating a new one. Any other difference builds a new model. Up to
``hpo.recycle_max_models`` built models (default 8) stay cached, least recently used dropped first, so a
search that revisits a few architectures while it tunes continuous training parameters (learning rate,
weight decay; ``conf/hpo/gat_tune.yaml``) recycles most of its trials.

Fresh and recycled models are initialised the same way (seed, then ``reset_parameters()``), so a
recycled trial gives the same result as a fresh build for the same seed.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
from typing import Any

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)

#: model config keys that never change the network (applied to a recycled model as they are)
NON_ARCHITECTURE_KEYS = ("optimizer", "scheduler")


def _digest(obj: Any) -> str:
    return hashlib.sha1(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def data_key(cfg: DictConfig, task_kind: str) -> str:
    """Identity of the prepared data: the resolved dataset config and the task kind (and, for data that
    may be cut into tiles, the model's hops and activation sizes: the tiles' margins depend on them)."""
    key = {"dataset": OmegaConf.to_container(cfg.dataset, resolve=True), "kind": task_kind}
    if cfg.dataset.get("batching", "full") != "full":
        from astrolab.training.build import model_hints

        key["model_hints"] = model_hints(cfg)
    return _digest(key)


def architecture_signature(cfg: DictConfig, num_features: int, data: str) -> str:
    """Everything that decides the parameter shapes and structure of the model a config builds."""
    model = OmegaConf.to_container(cfg.model, resolve=True)
    for k in NON_ARCHITECTURE_KEYS:
        model.pop(k, None)
    task = OmegaConf.to_container(cfg.task, resolve=True)
    return _digest({"model": model, "task": task, "num_features": int(num_features), "data": data})


class DataCache:
    """Prepared DataModules of this process, keyed by :func:`data_key`."""

    def __init__(self) -> None:
        self._items: dict[str, Any] = {}
        self.builds = 0

    def get(self, cfg: DictConfig, task_cls: type):
        from astrolab.training.build import build_datamodule

        key = data_key(cfg, task_cls.kind)
        dm = self._items.get(key)
        if dm is None:
            dm = build_datamodule(cfg, task_cls)
            dm.prepare_data()
            dm.setup("fit")
            self._items[key] = dm
            self.builds += 1
        return key, dm

    def clear(self) -> None:
        self._items.clear()


class ModelPool:
    """Built models of this process, keyed by architecture signature: one model per signature, at most
    ``max_models`` of them (least recently used dropped first), so a search that comes back to an
    architecture it tried a few trials earlier (while it tunes the training parameters) recycles it.

    Args:
        enabled: ``hpo.recycle``; ``False`` builds every trial's model anew and keeps none.
        max_models: ``hpo.recycle_max_models``, how many built models stay cached (>= 1).
    """

    def __init__(self, enabled: bool = True, max_models: int = 8) -> None:
        from collections import OrderedDict

        self.enabled = enabled
        self.max_models = max(int(max_models), 1)
        self._models: OrderedDict[str, Any] = OrderedDict()
        self.builds = 0
        self.reuses = 0

    def __len__(self) -> int:
        return len(self._models)

    def get(self, cfg: DictConfig, task, num_features: int, data: str, seed: int,
            inputs: dict[str, Any] | None = None) -> tuple[Any, bool]:
        """``(model, recycled)``: a re-initialised cached model, or a new one (cached for later)."""
        import lightning as L

        from astrolab.training.build import build_model
        from astrolab.utils.instantiate import instantiate

        sig = architecture_signature(cfg, num_features, data)
        model = self._models.get(sig) if self.enabled else None
        recycled = model is not None
        if model is None:
            if self.enabled:
                while len(self._models) >= self.max_models:  # the least recently used goes
                    _clear(self._models.popitem(last=False)[1])
                    release_memory()
            L.seed_everything(seed, workers=True, verbose=False)
            model = build_model(cfg, task, num_features, **dict(inputs or {}))
            self.builds += 1
            if self.enabled:
                self._models[sig] = model
        else:
            self.reuses += 1
            self._models.move_to_end(sig)
            _clear(model)
            # the trial's own training parameters: a new optimizer (and scheduler) from its config, stored
            # as a fresh build stores it (a plain picklable functools.partial)
            from astrolab.models.core import _picklable

            opt = cfg.model.get("optimizer")
            sched = cfg.model.get("scheduler")
            model.optimizer_factory = _picklable(instantiate(opt)) if opt is not None else None
            model.scheduler_factory = _picklable(instantiate(sched)) if sched is not None else None
            model.train()
        # fresh and recycled models start from the same state for the same seed
        L.seed_everything(seed, workers=True, verbose=False)
        model.reset_parameters()
        model.zero_grad(set_to_none=True)
        return model, recycled

    def release(self) -> None:
        """Drop cached models and free their memory."""
        for m in self._models.values():
            _clear(m)
        self._models.clear()
        release_memory()


def _clear(model: Any) -> None:
    """The model's own cleanup (gradients, caches) where it has one."""
    if callable(getattr(model, "clear_memory", None)):
        model.clear_memory()


def release_memory() -> None:
    """Collect garbage and return cached accelerator memory to the device."""
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except Exception:  # pragma: no cover - best effort
        pass
