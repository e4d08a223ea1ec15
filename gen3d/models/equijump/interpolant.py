"""The stochastic interpolant x_s = (1 - s) x0 + s x1 + gamma(s) z and its SDE/ODE integrators.

Two-sided ("bridge"): x0 is the current frame plus a small jitter (base_noise), x1 the frame tau
later, so the transport starts on the data. One-sided ("gaussian"): x0 is centred Gaussian noise
and the network sees the current frame only as its condition. The network predicts the drift
b = E[dx_s/ds | x_s] and the denoiser eta = E[z | x_s]; the SDE with diffusion eps * gamma(s) uses
the score -eta / gamma, so its drift is b - eps * eta and its noise sqrt(2 eps gamma(s)).
With the endpoint parameterisation the network predicts x1 instead of b; since
x_s = (1 - s) x0 + s x1 + gamma z, the drift follows as
b = (x1 - x_s) / (1 - s) + (gamma / (1 - s) + gamma') eta, and a step that reaches s = 1 lands on x1.
All tensors are per atom, centred on each system's centroid.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gen3d.nn.scatter import scatter_mean


def centred(x: torch.Tensor, batch: torch.Tensor, num_graphs: int) -> torch.Tensor:
    """``x`` minus its per-system mean (keeps noise in the centre-of-mass-free subspace)."""
    return x - scatter_mean(x, batch, num_graphs)[batch]


@dataclass(frozen=True)
class Interpolant:
    """Schedule and base distribution of one trained model."""

    kind: str = "bridge"
    gamma_scale: float = 2.0
    base_noise: float = 0.3
    prior_scale: float = 3.0

    def gamma(self, s: torch.Tensor) -> torch.Tensor:
        return self.gamma_scale * s * (1 - s)

    def gamma_dot(self, s: torch.Tensor) -> torch.Tensor:
        return self.gamma_scale * (1 - 2 * s)

    def drift_from_endpoint(self, x1: torch.Tensor, eta: torch.Tensor, xs: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """The drift implied by predicted x1 and eta at time s < 1."""
        rest = 1 - s
        return (x1 - xs) / rest + (self.gamma(s) / rest + self.gamma_dot(s)) * eta

    def base(self, x0: torch.Tensor, batch: torch.Tensor, num_graphs: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """A draw of the start point: the jittered current frame, or pure Gaussian noise."""
        xi = centred(torch.randn(x0.shape, generator=generator, device=x0.device, dtype=x0.dtype), batch, num_graphs)
        if self.kind == "bridge":
            return x0 + self.base_noise * xi
        if self.kind == "gaussian":
            return self.prior_scale * xi
        raise ValueError(f"unknown interpolant {self.kind!r} (use bridge or gaussian)")

    def sample_path(self, x0: torch.Tensor, x1: torch.Tensor, s: torch.Tensor, batch: torch.Tensor, num_graphs: int):
        """(x_s, drift target, denoiser target) for per-atom times ``s`` (n, 1)."""
        start = self.base(x0, batch, num_graphs)
        z = centred(torch.randn_like(x0), batch, num_graphs)
        xs = (1 - s) * start + s * x1 + self.gamma(s) * z
        return xs, x1 - start + self.gamma_dot(s) * z, z
