"""stats.py — the statistics of `framefuzz bugs`: time-to-detect under a time limit.

Each trial of a (bug, configuration) pair gives a time to detect in seconds and whether the
bug was found by the limit T. A trial not found is right-censored at T: we only know its
time to detect is at least T.

Conventions:
- Survival (kaplan_meier, km_median, restricted_mean, survival_points) takes the censoring
  into account. S(t) is the estimated probability that a trial has NOT detected the bug
  by time t; it is a right-continuous step function (it drops AT an event time). At a time
  with both detections and censorings, detections count first: the censored trials are
  still at risk at that time. S values are exact fractions.Fraction (products of ratios of
  trial counts), so comparisons such as S <= 1/2 are exact; times are kept as given.
- The rank statistics (mann_whitney_u, vargha_delaney_a12) take plain samples: pass a
  censored trial as T itself. That orders it correctly against every detection (its true
  time is at least T) and ties it with the other censored trials (whose order is unknown),
  so heavy ties at T are normal; both samples must share the same T.
- Orientation: on times to detect, a smaller value is better. U_x and A12(x, y) count the
  pairs in which x is LARGER, so A12 < 0.5 means x tends to detect sooner than y.
- Bad input raises ValueError with a one-line message; an empty sample for a rank
  statistic is bad input (there is nothing to compare).
"""
import math
from collections import Counter
from fractions import Fraction
from itertools import groupby

EXACT_MAX_SIZE = 50  # exact Mann-Whitney p-values for samples of up to this many values each


def _trials(times, found):
    times, found = list(times), list(found)
    if len(times) != len(found):
        raise ValueError(f"times and found differ in length ({len(times)} and {len(found)})")
    for t in times:
        if not math.isfinite(t) or t < 0:
            raise ValueError(f"time {t!r} is not a finite non-negative number")
    for f in found:
        if f not in (True, False):
            raise ValueError(f"found value {f!r} is not a boolean")
    return sorted(zip(times, map(bool, found)))


def kaplan_meier(times, found):
    """The Kaplan-Meier estimate of S(t) = P(time to detect > t).

    Returns [(t, S(t)), ...]: (0, 1) first, then one point per distinct event time (a time
    with at least one found trial), increasing; S holds from each point's t up to the next
    one's. At event time t, S is multiplied by (1 - d/n), where d is the number of trials
    found at t and n the number still at risk at t (time >= t: censorings at t come after
    the events). Censored-only times add no point. If trials were found at time 0, the
    first point is (0, S(0)) with S(0) < 1. S values are exact Fractions. Empty input
    gives [(0, 1)].
    """
    trials = _trials(times, found)
    at_risk = len(trials)
    s = Fraction(1)
    curve = [(0, s)]
    for t, group in groupby(trials, key=lambda trial: trial[0]):
        flags = [f for _, f in group]
        if events := sum(flags):
            s *= Fraction(at_risk - events, at_risk)
            if t == 0:
                curve[0] = (t, s)
            else:
                curve.append((t, s))
        at_risk -= len(flags)
    return curve


def km_median(curve):
    """The median time to detect from a kaplan_meier curve: the smallest t with S(t) <= 1/2,
    or None if S never gets there (more than half the trials censored, in effect).

    Where S is exactly 1/2 over an interval this is its left end (R's survfit would report
    the interval's midpoint): all found at [1, 2, 3, 4] gives 2, not 2.5.
    """
    return next((t for t, s in curve if s <= Fraction(1, 2)), None)


def restricted_mean(curve, tau):
    """The restricted mean time to detect (RMST) up to tau: the area under the step
    function S from 0 to tau, as a float (summed exactly, rounded once).

    Points after tau are ignored; past the curve's last point S keeps its last value. When
    every trial was found this equals the plain mean of min(t, tau) over the trials.
    """
    if not math.isfinite(tau) or tau < 0:
        raise ValueError(f"tau {tau!r} is not a finite non-negative number")
    limit = Fraction(tau)
    ends = [Fraction(t) for t, _ in curve[1:]] + [limit]
    area = Fraction(0)
    for (t, s), end in zip(curve, ends):
        if Fraction(t) >= limit:
            break
        area += (min(end, limit) - Fraction(t)) * Fraction(s)
    return float(area)


def survival_points(curve, tau):
    """(xs, ys), floats, to draw a kaplan_meier curve up to tau with matplotlib's
    step(xs, ys, where="post"): the curve's points before tau, then (tau, S(tau)), so the
    last step runs to tau (and drops there if trials were found exactly at tau)."""
    if not math.isfinite(tau) or tau < 0:
        raise ValueError(f"tau {tau!r} is not a finite non-negative number")
    before = [(t, s) for t, s in curve if t < tau]
    s_at_tau = [s for t, s in curve if t <= tau][-1]  # curve[0] is at 0 <= tau
    return ([float(t) for t, _ in before] + [float(tau)],
            [float(s) for _, s in before] + [float(s_at_tau)])


def median(values):
    """The plain median of values (the mean of the two middle ones for an even count), or
    None when there are none."""
    values = sorted(values)
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2


def _sample(values, name):
    values = list(values)
    if not values:
        raise ValueError(f"sample {name} is empty")
    for v in values:
        if not math.isfinite(v):
            raise ValueError(f"value {v!r} in sample {name} is not a finite number")
    return values


def _pair_counts(x, y):
    """(pairs with xi > yj, pairs with xi == yj) over all len(x) * len(y) pairs."""
    return (sum(1 for a in x for b in y if a > b), sum(1 for a in x for b in y if a == b))


def _u_null_counts(n, m):
    """counts[u] for u = 0 .. n*m: how many of the comb(n + m, n) equally likely orderings
    of n x-values and m y-values (no ties) give U_x = u.

    These are the coefficients of the Gaussian binomial coefficient
    [n+m choose n](q) = prod(i = 1..n) (1 - q^(m+i)) / (1 - q^i), built one factor at a
    time: multiplying by (1 - q^k) is counts[j] -= counts[j-k] (j downwards), dividing by
    (1 - q^i) is counts[j] += counts[j-i] (j upwards). Terms above q^(n*m) are dropped; that
    is safe because every partial product is a polynomial of degree at most n*m and
    coefficient j of a quotient by (1 - q^i) depends only on coefficients <= j.
    """
    counts = [1] + [0] * (n * m)
    for i in range(1, n + 1):
        for j in range(n * m, m + i - 1, -1):
            counts[j] -= counts[j - m - i]
        for j in range(i, n * m + 1):
            counts[j] += counts[j - i]
    return counts


def _u_variance(n, m, pooled):
    """Var(U_x) under the null hypothesis given the pooled values' ties:
    n*m/12 * ((N + 1) - sum(t^3 - t) / (N*(N - 1))), N = n + m, t the size of each group of
    equal values. An exact Fraction; 0 when all the values are equal."""
    size = n + m
    tie_sum = sum(t ** 3 - t for t in Counter(pooled).values())
    return Fraction(n * m, 12) * (size + 1 - Fraction(tie_sum, size * (size - 1)))


def mann_whitney_u(x, y):
    """The Mann-Whitney U test of x against y: returns (U_x, p), p two-sided.

    U_x = (pairs with xi > yj) + 1/2 (pairs with xi == yj), a float; U_y would be
    n*m - U_x (n = len(x), m = len(y)), and U_x / (n*m) is vargha_delaney_a12(x, y).
    p is EXACT when no two of the n + m values are equal and n, m <= EXACT_MAX_SIZE (50):
    2 * P(U <= min(U_x, n*m - U_x)) under the null distribution (every ordering equally
    likely), capped at 1. Otherwise p is the normal approximation: mean n*m/2, the
    tie-corrected variance (_u_variance), a continuity correction of 1/2:
    z = max(|U_x - n*m/2| - 1/2, 0) / sd, p = erfc(z / sqrt(2)). If all values are equal
    (variance 0), p = 1.0. An empty sample raises ValueError.
    """
    x, y = _sample(x, "x"), _sample(y, "y")
    n, m = len(x), len(y)
    greater, ties = _pair_counts(x, y)
    u = greater + ties / 2
    if len(set(x + y)) == n + m and max(n, m) <= EXACT_MAX_SIZE:
        tail = sum(_u_null_counts(n, m)[:int(min(u, n * m - u)) + 1])
        return u, float(min(Fraction(2 * tail, math.comb(n + m, n)), 1))
    variance = _u_variance(n, m, x + y)
    if variance == 0:
        return u, 1.0
    z = max(abs(u - n * m / 2) - 0.5, 0) / math.sqrt(variance)
    return u, math.erfc(z / math.sqrt(2))


def vargha_delaney_a12(x, y):
    """Vargha and Delaney's A12 = P(X > Y) + 1/2 P(X = Y), over all len(x) * len(y) pairs
    (xi, yj). On times to detect, A12 < 0.5 means x tends to detect sooner than y; 0.5 is
    no difference, 0.0 means every x is below every y. An empty sample raises ValueError."""
    x, y = _sample(x, "x"), _sample(y, "y")
    greater, ties = _pair_counts(x, y)
    return (2 * greater + ties) / (2 * len(x) * len(y))


MAGNITUDES = (("large", 0.29, 0.71), ("medium", 0.36, 0.64), ("small", 0.44, 0.56))


def a12_magnitude(a):
    """Vargha and Delaney's name for the size of an A12 effect, symmetric about 0.5:
    "large" if A >= 0.71 or A <= 0.29, else "medium" if A >= 0.64 or A <= 0.36, else
    "small" if A >= 0.56 or A <= 0.44, else "negligible". Boundaries belong to the larger
    effect."""
    if not 0 <= a <= 1:
        raise ValueError(f"A12 {a!r} is not between 0 and 1")
    return next((name for name, low, high in MAGNITUDES if a <= low or a >= high),
                "negligible")
