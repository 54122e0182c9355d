"""Deterministic randomness: seeds derived from integer keys, never from ``hash(str)``.

Python randomizes string hashing per process, so every derived seed here is computed from
integers with a SplitMix64-style mixer. The same keys give the same numbers on every run.
"""

from __future__ import annotations

import math
import random

_MASK = (1 << 64) - 1

# Salts that keep the random streams of the generator's parts independent of each other.
SALT_ACCOUNT = 11
SALT_GROUPS = 12
SALT_USERS = 13
SALT_PHISHING = 14
SALT_PST_PLAN = 15
SALT_RECIPIENTS = 16
SALT_TRAINING = 17
SALT_ENROLLMENTS = 18
SALT_RISK = 19
SALT_FAULTS = 20
SALT_REQUEST_ID = 21
SALT_USER_PPP = 22
SALT_MESSY = 23
SALT_DELETIONS = 24


def mix(*parts: int) -> int:
    """Mix integer keys into one well-distributed 64-bit integer."""
    h = 0x243F6A8885A308D3
    for part in parts:
        h = (h + (part & _MASK) + 0x9E3779B97F4A7C15) & _MASK
        h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & _MASK
        h ^= h >> 31
    return h


def rng(*parts: int) -> random.Random:
    """Return a ``random.Random`` seeded from the mixed keys."""
    return random.Random(mix(*parts))


def unit(*parts: int) -> float:
    """Return a uniform float in ``[0, 1)`` determined by the keys."""
    return (mix(*parts) >> 11) / 9007199254740992.0


def binomial(r: random.Random, n: int, p: float) -> int:
    """Draw a binomial count (exact for small ``n``, normal approximation otherwise)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if n < 40:
        return sum(1 for _ in range(n) if r.random() < p)
    mean = n * p
    value = round(r.gauss(mean, math.sqrt(mean * (1.0 - p))))
    return max(0, min(n, value))


def weighted_index(r: random.Random, weights: tuple[int, ...] | list[int]) -> int:
    """Pick an index with probability proportional to its weight."""
    total = sum(weights)
    x = r.random() * total
    for i, w in enumerate(weights):
        x -= w
        if x < 0:
            return i
    return len(weights) - 1


def pick_some(ids: list[int], share: float, *key: int, among: list[int] | None = None) -> set[int]:
    """Ids whose draw ``unit(*key, id)`` is below ``share``, and at least one of ``among``.

    ``among`` defaults to ``ids``; when none of it was drawn, its lowest draw joins the set.
    """
    draws = {i: unit(*key, i) for i in ids}
    chosen = {i for i, x in draws.items() if x < share}
    pool = ids if among is None else among
    if pool and chosen.isdisjoint(pool):
        chosen.add(min(pool, key=lambda i: (unit(*key, i), i)))
    return chosen
