"""TM-scores between protein structures (TM-align through ``tmtools``): pairwise diversity and novelty.

``tmtools`` is GPL-licensed and therefore optional (``pip install gen3d[tm]``). Structures are
compared by their CA atoms, all chains concatenated in file order. TM-scores lie in (0, 1]; 1 is
an identical fold, above 0.5 the same fold in general, below 0.2 unrelated.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from gen3d.data.residues import ONE_LETTER
from gen3d.io.errors import InputError
from gen3d.metrics.protein_geometry import Backbone

Progress = Callable[[str, int, int], None]  # (stage, done, total)
MAX_PAIRS = 5000  # pairs scored for the diversity of a large set (a fixed random subset beyond)
NOVEL_BELOW = 0.5  # a structure is novel when no reference structure reaches this TM-score


class MissingDependency(InputError):
    """An optional package a metric needs is not installed; a bad-input error (exit 2) saying how to install it."""


def require_tmtools():
    """``tmtools.tm_align``, or a ``MissingDependency`` error that says how to install tmtools."""
    try:
        from tmtools import tm_align
    except ImportError:
        raise MissingDependency(
            "TM-scores need tmtools (GPL): pip install 'gen3d[tm]' or pip install tmtools; or pass --no-tm"
        ) from None
    return tm_align


def _sequence(bb: Backbone) -> str:
    return "".join(ONE_LETTER.get(str(name), "X") for name in bb.residue_names)


def tm_scores(a: Backbone, b: Backbone) -> tuple[float, float]:
    """TM-align scores of ``a`` and ``b``, normalised by the length of ``a`` and of ``b`` (0 below 3 residues)."""
    if len(a) < 3 or len(b) < 3:  # TM-align needs a few residues to align
        return 0.0, 0.0
    result = require_tmtools()(a.ca.astype(np.float64), b.ca.astype(np.float64), _sequence(a), _sequence(b))
    return float(result.tm_norm_chain1), float(result.tm_norm_chain2)


def _pairs(n: int, max_pairs: int | None) -> np.ndarray:
    """(k, 2) index pairs i < j, a fixed random subset of ``max_pairs`` when there are more."""
    i, j = np.triu_indices(n, k=1)
    pairs = np.stack([i, j], axis=1)
    if max_pairs is not None and len(pairs) > max_pairs:
        pick = np.sort(np.random.default_rng(0).choice(len(pairs), size=max_pairs, replace=False))
        pairs = pairs[pick]
    return pairs


def pairwise_tm(
    structures: Sequence[Backbone], max_pairs: int | None = MAX_PAIRS, progress: Progress | None = None,
) -> float | None:
    """Mean TM-score over pairs of structures (mean of both normalisations); lower is more diverse; None below 2."""
    pairs = _pairs(len(structures), max_pairs)
    if len(pairs) == 0:
        return None
    scores = np.empty(len(pairs))
    for k, (i, j) in enumerate(pairs):
        scores[k] = np.mean(tm_scores(structures[i], structures[j]))
        if progress is not None:
            progress("pairwise TM-score", k + 1, len(pairs))
    return float(scores.mean())


def max_tm_to_reference(
    structures: Sequence[Backbone], reference: Sequence[Backbone], progress: Progress | None = None,
) -> np.ndarray:
    """(n,) highest TM-score of each structure to any reference structure, normalised by the structure's length."""
    best = np.zeros(len(structures))
    total, done = len(structures) * len(reference), 0
    for i, query in enumerate(structures):
        for ref in reference:
            best[i] = max(best[i], tm_scores(query, ref)[0])
            done += 1
            if progress is not None:
                progress("TM-score to reference", done, total)
    return best
