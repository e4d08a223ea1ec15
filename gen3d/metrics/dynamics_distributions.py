"""Distances between distributions of observables: Jensen-Shannon divergence on shared histograms, basins, TICA.

The Jensen-Shannon divergence is in nats (natural log; its maximum is ln 2 = 0.693).
"""

from __future__ import annotations

import numpy as np

# Ramachandran basins of a residue (degrees): alpha_R, beta/PII, and alpha_L taken as all of phi > 0.
BASINS = ("alpha_R", "beta_PII", "alpha_L")


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """JS divergence (nats) of two histograms (normalised here)."""
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    p, q = p / p.sum(), q / q.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float((a[nz] * np.log(a[nz] / m[nz])).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def js_2d(a: np.ndarray, b: np.ndarray, bins: int, ranges: list[tuple[float, float]]) -> float:
    """JS divergence of 2-D histograms of samples a and b (each (N, 2)) on the same grid."""
    ha, _, _ = np.histogram2d(a[:, 0], a[:, 1], bins=bins, range=ranges)
    hb, _, _ = np.histogram2d(b[:, 0], b[:, 1], bins=bins, range=ranges)
    return js_divergence(ha, hb)


def js_1d(a: np.ndarray, b: np.ndarray, bins: int = 50) -> float:
    """JS divergence of 1-D histograms over the range both samples span."""
    lo, hi = min(a.min(), b.min()), max(a.max(), b.max())
    ha, _ = np.histogram(a, bins=bins, range=(lo, hi + 1e-9))
    hb, _ = np.histogram(b, bins=bins, range=(lo, hi + 1e-9))
    return js_divergence(ha, hb)


def basin_of(phi: np.ndarray, psi: np.ndarray) -> np.ndarray:
    """Basin index per sample: 0 alpha_R (phi < 0, -120 <= psi < 50), 1 beta/PII (phi < 0, other psi), 2 alpha_L (phi >= 0)."""
    alpha_r = (phi < 0) & (psi >= -120) & (psi < 50)
    return np.where(phi >= 0, 2, np.where(alpha_r, 0, 1))


def basin_populations(phi: np.ndarray, psi: np.ndarray) -> dict[str, float]:
    """Fraction of samples in each basin."""
    counts = np.bincount(basin_of(phi.ravel(), psi.ravel()), minlength=3)
    return {name: float(c / counts.sum()) for name, c in zip(BASINS, counts)}


def fit_tica(reference_features: list[np.ndarray], lag: int, dim: int = 2):
    """deeptime TICA fitted on the reference trajectories' features."""
    from deeptime.decomposition import TICA

    usable = [f for f in reference_features if len(f) > lag]
    if not usable:
        raise ValueError(f"reference trajectories are shorter than the TICA lag of {lag} frames")
    return TICA(lagtime=lag, dim=dim).fit(usable).fetch_model()


def histogram_ranges(reference: np.ndarray, margin: float = 0.1) -> list[tuple[float, float]]:
    """Per-column (lo, hi) of the reference widened by ``margin`` of its span."""
    lo, hi = reference.min(0), reference.max(0)
    pad = (hi - lo) * margin + 1e-9
    return [(float(a - p), float(b + p)) for a, b, p in zip(lo, hi, pad)]
