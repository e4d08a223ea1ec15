"""diffusers noise schedulers configured for Ophiuchus latents (not images).

Latents are not images: nothing clips to ±1 (diffusers' image default). The model predicts
v = sqrt(a) eps - sqrt(1 - a) x0 on a cosine schedule (epsilon-prediction diverged: see
``LatentDiffusion.velocity``); DDPM and DDIM also clip their x0 prediction to ``clip_range``, the
largest normalised value seen in the training latents times a margin (recorded in the card).
DPM-Solver++ has no such clip in diffusers (its "thresholding" rescales, for images).
The notes below on the last timestep were measured with epsilon-prediction. The cosine schedule caps the last beta at 0.999, so
``alphas_cumprod[T-1]`` is ~2e-9 and a step *from* t = T-1 multiplies the model's epsilon error by
~30 (DDPM), ~600 (DDIM, 50 steps) or ~25 (DPM-Solver++ even with ``lambda_min_clipped``). "leading"
spacing never visits t = T-1 unless every training step is used (first step t = T - T/steps,
error gain 1-2), so the DDPM default is T/2 steps rather than the full chain; starting from pure
noise at t = T - T/steps ignores the data's share sqrt(alphas_cumprod[t]) of x_t there (0.002 for
500 steps, 0.03 for 50, 0.15 for 10): the usual price of "leading" spacing.
"""

from __future__ import annotations

from typing import Any

from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler

SCHEDULERS: tuple[str, ...] = ("ddpm", "ddim", "dpm")

_CLASSES = {"ddpm": DDPMScheduler, "ddim": DDIMScheduler, "dpm": DPMSolverMultistepScheduler}

_COMMON: dict[str, Any] = {
    "beta_schedule": "squaredcos_cap_v2",
    "prediction_type": "v_prediction",
    "thresholding": False,
}

_SPECIFIC: dict[str, dict[str, Any]] = {
    "ddpm": {"variance_type": "fixed_small", "clip_sample": False, "timestep_spacing": "leading", "steps_offset": 0},
    "ddim": {"clip_sample": False, "set_alpha_to_one": True, "timestep_spacing": "leading", "steps_offset": 0},
    "dpm": {
        "algorithm_type": "dpmsolver++", "solver_order": 2, "lower_order_final": True,
        "final_sigmas_type": "zero", "lambda_min_clipped": -5.1, "timestep_spacing": "leading", "steps_offset": 0,
    },
}

# Inference steps when the caller gives none (None: half the training chain, see the module docstring).
DEFAULT_STEPS: dict[str, int | None] = {"ddpm": None, "ddim": 50, "dpm": 25}


def _check(name: str) -> None:
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {', '.join(SCHEDULERS)}")


def scheduler_config(name: str, num_train_timesteps: int = 1000) -> dict[str, Any]:
    """JSON-serialisable description of scheduler ``name`` (class and keyword arguments), for model cards."""
    _check(name)
    return {
        "name": name,
        "class": _CLASSES[name].__name__,
        "num_train_timesteps": num_train_timesteps,
        **_COMMON,
        **_SPECIFIC[name],
        "default_steps": default_steps(name, num_train_timesteps),
    }


def make_scheduler(name: str, num_train_timesteps: int = 1000, clip_range: float | None = None):
    """A fresh diffusers scheduler ``name`` (one of :data:`SCHEDULERS`); they are stateful: one per sampling run.
    ``clip_range`` (DDPM, DDIM) clips the predicted x0 to ±clip_range."""
    _check(name)
    extra = {"clip_sample": True, "clip_sample_range": clip_range} if clip_range and name in ("ddpm", "ddim") else {}
    return _CLASSES[name](num_train_timesteps=num_train_timesteps, **_COMMON, **{**_SPECIFIC[name], **extra})


def default_steps(name: str, num_train_timesteps: int = 1000) -> int:
    """Number of inference steps used when the caller does not choose."""
    _check(name)
    return DEFAULT_STEPS[name] or max(num_train_timesteps // 2, 1)
