"""Ratings from best-of-n votes: the Luce choice (Plackett-Luce top-1) model, fitted by scipy.

A vote shows a set S of models and names a winner w: P(w | S) = exp(θ_w) / Σ_{j∈S} exp(θ_j).
A tie over S counts as a 1/|S| share of a win for each shown model, the top-1 analogue of the
half-win of a tied pair: it pulls the shown models together and states no preference between them.
The estimate is penalised by alpha·Σθ² (a Gaussian prior, as choix's MAP estimates), which keeps a
model that never won finite; strengths are reported centred (mean 0) on the Elo scale.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize

ALPHA = 0.01
ELO_BASE = 1000.0
ELO_SCALE = 400.0 / math.log(10.0)  # one Elo point difference of 400 = 10:1 odds, as in chess and LMSYS


def votes_to_design(votes: list[tuple[list[str], str | None]], models: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(shown, wins), each n_votes x n_models: 1 where shown; the winner's 1, or 1/|S| each for a tie (winner None)."""
    index = {m: i for i, m in enumerate(models)}
    shown = np.zeros((len(votes), len(models)))
    wins = np.zeros_like(shown)
    for row, (names, winner) in enumerate(votes):
        cols = [index[n] for n in names]
        shown[row, cols] = 1.0
        if winner is None:
            wins[row, cols] = 1.0 / len(cols)
        else:
            wins[row, index[winner]] = 1.0
    return shown, wins


def _patterns(shown: np.ndarray, wins: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct vote patterns (shown set, wins) and which pattern each vote is: the fit works on counts."""
    unique, inverse = np.unique(np.hstack([shown, wins]), axis=0, return_inverse=True)
    k = shown.shape[1]
    return unique[:, :k], unique[:, k:], inverse.ravel()


def _negative_log_posterior(flat: np.ndarray, shown: np.ndarray, wins: np.ndarray, weights: np.ndarray, alpha: float):
    """Sum over the rows of `weights` (independent fits stacked) of -log posterior, and its gradient."""
    theta = flat.reshape(weights.shape[0], shown.shape[1])
    logits = np.where(shown[None] > 0, theta[:, None, :], -np.inf)
    top = logits.max(axis=2, keepdims=True)
    expd = np.exp(logits - top)
    total = expd.sum(axis=2, keepdims=True)
    lse = (top + np.log(total))[..., 0]
    value = float(np.sum(weights * (lse - theta @ wins.T)) + alpha * np.sum(theta * theta))
    grad = np.einsum("bp,bpk->bk", weights, expd / total - wins[None]) + 2.0 * alpha * theta
    return value, grad.ravel()


def fit_strengths(shown: np.ndarray, wins: np.ndarray, weights: np.ndarray | None = None, alpha: float = ALPHA) -> np.ndarray:
    """Penalised maximum-likelihood log-strengths θ (centred): one row per row of `weights`.

    `weights` (fits x votes) counts each vote in each fit (bootstrap resamples), default one fit
    counting every vote once; every vote's wins sum to 1. The fits are independent, so one L-BFGS
    run over all of them stacked solves each (its curvature is block-diagonal) in one vectorised call.
    """
    weights = np.ones((1, len(shown))) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    start = np.zeros(weights.shape[0] * shown.shape[1])
    result = minimize(_negative_log_posterior, start, args=(shown, wins, weights, alpha), jac=True, method="L-BFGS-B",
                      options={"maxiter": 10_000, "ftol": 1e-14, "gtol": 1e-8})
    theta = result.x.reshape(weights.shape[0], shown.shape[1])
    return theta - theta.mean(axis=1, keepdims=True)


def bootstrap_strengths(shown: np.ndarray, wins: np.ndarray, resamples: int = 1000, seed: int = 0,
                        alpha: float = ALPHA) -> np.ndarray:
    """resamples x n_models refits on whole votes drawn with replacement (seeded)."""
    pattern_shown, pattern_wins, pattern_of = _patterns(shown, wins)
    rng = np.random.default_rng(seed)
    draws = pattern_of[rng.integers(0, len(pattern_of), size=(resamples, len(pattern_of)))]
    counts = np.zeros((resamples, len(pattern_shown)))
    np.add.at(counts, (np.arange(resamples)[:, None], draws), 1.0)
    return fit_strengths(pattern_shown, pattern_wins, counts, alpha)


def strengths_to_elo(theta: np.ndarray) -> np.ndarray:
    return ELO_BASE + ELO_SCALE * np.asarray(theta)


def fit_ratings(shown: np.ndarray, wins: np.ndarray, resamples: int = 1000, seed: int = 0, alpha: float = ALPHA,
                level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Elo-scale ratings, bootstrap draws of them, percentile CI as 2 x n_models)."""
    pattern_shown, pattern_wins, pattern_of = _patterns(shown, wins)
    point = strengths_to_elo(fit_strengths(pattern_shown, pattern_wins, np.bincount(pattern_of, minlength=len(pattern_shown)), alpha)[0])
    draws = strengths_to_elo(bootstrap_strengths(shown, wins, resamples, seed, alpha))
    tail = (1.0 - level) / 2.0 * 100.0
    return point, draws, np.percentile(draws, [tail, 100.0 - tail], axis=0)
