"""Learning-rate schedules that need the run's length (built by ``OptimizationMixin`` with
``total_steps`` from the trainer, stepped every optimizer step)."""

from __future__ import annotations

import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR


def cosine_with_warmup(optimizer: Optimizer, total_steps: int, warmup_fraction: float = 0.05,
                       warmup_steps: int | None = None, min_lr_ratio: float = 0.0) -> LRScheduler:
    """Linear warm-up from 0 to the optimizer's lr, then cosine decay to ``min_lr_ratio`` × lr."""
    total = max(int(total_steps), 1)
    warm = int(warmup_steps) if warmup_steps is not None else int(round(warmup_fraction * total))

    def factor(step: int) -> float:
        if warm > 0 and step < warm:
            return (step + 1) / warm
        progress = min(max(step - warm, 0) / max(total - warm, 1), 1.0)
        return min_lr_ratio + (1 - min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return LambdaLR(optimizer, factor)


def one_cycle(optimizer: Optimizer, total_steps: int, max_lr: float | None = None, pct_start: float = 0.3,
              div_factor: float = 25.0, final_div_factor: float = 1e4) -> LRScheduler:
    """``torch.optim.lr_scheduler.OneCycleLR`` peaking at ``max_lr`` (default: the optimizer's lr)."""
    peak = max_lr if max_lr is not None else [g["lr"] for g in optimizer.param_groups]
    return OneCycleLR(optimizer, max_lr=peak, total_steps=max(int(total_steps), 2), pct_start=pct_start,
                      div_factor=div_factor, final_div_factor=final_div_factor,
                      cycle_momentum=any("momentum" in g or "betas" in g for g in optimizer.param_groups))


#: schedules stepped per optimizer step that need ``total_steps``
STEP_SCHEDULES = (cosine_with_warmup, one_cycle)
