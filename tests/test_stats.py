"""test_stats.py — cli/stats.py against values computed by hand (shown next to each).

    /usr/bin/python3 -m unittest tests.test_stats -v      (from the checkout)
    /usr/bin/python3 tests/test_stats.py                   (last line: "N passed, N failed")
"""
import math
import os
import sys
import unittest
from fractions import Fraction as F
from itertools import combinations

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from cli.stats import (_u_null_counts, _u_variance, a12_magnitude, kaplan_meier, km_median,
                       mann_whitney_u, median, restricted_mean, survival_points,
                       vargha_delaney_a12)

# Freireich et al. (1963), the 6-MP arm of the leukaemia remission trial, the textbook
# Kaplan-Meier example (weeks; "+" = censored):
# 6 6 6 6+ 7 9+ 10 10+ 11+ 13 16 17+ 19+ 20+ 22 23 25+ 32+ 32+ 34+ 35+
SIX_MP = [(6, True), (6, True), (6, True), (6, False), (7, True), (9, False), (10, True),
          (10, False), (11, False), (13, True), (16, True), (17, False), (19, False),
          (20, False), (22, True), (23, True), (25, False), (32, False), (32, False),
          (34, False), (35, False)]


def km(trials):
    return kaplan_meier([t for t, _ in trials], [f for _, f in trials])


class KaplanMeier(unittest.TestCase):
    def test_textbook_6mp(self):
        # at 6:  21 at risk, 3 found           S = 18/21                  = 6/7    ~ .857
        # at 7:  21-3-1 (the 6+) = 17 at risk  S = 6/7 * 16/17            = 96/119 ~ .807
        # at 10: 17-1-1 (the 9+) = 15          S = 96/119 * 14/15         = 64/85  ~ .753
        # at 13: 15-1-1-1 (10, 10+, 11+) = 12  S = 64/85 * 11/12          = 176/255 ~ .690
        # at 16: 11                            S = 176/255 * 10/11        = 32/51  ~ .627
        # at 22: 10-3 (17+ 19+ 20+) = 7        S = 32/51 * 6/7            = 64/119 ~ .538
        # at 23: 6                             S = 64/119 * 5/6           = 160/357 ~ .448
        # (the textbook's .857 .807 .753 .690 .627 .538 .448)
        self.assertEqual(km(SIX_MP), [(0, 1), (6, F(6, 7)), (7, F(96, 119)), (10, F(64, 85)),
                                      (13, F(176, 255)), (16, F(32, 51)), (22, F(64, 119)),
                                      (23, F(160, 357))])

    def test_events_before_censorings_at_the_same_time(self):
        # at 3: 3 at risk (the censored 3 still counts), 1 found: S = 2/3 (1/2 if the
        # censoring came first); at 5: 1 at risk, 1 found: S = 0
        self.assertEqual(kaplan_meier([5, 3, 3], [True, False, True]),
                         [(0, 1), (3, F(2, 3)), (5, 0)])

    def test_censored_only_times_add_no_step(self):
        # at 2: 4 at risk, S = 3/4; 4 censored; at 8: 2 at risk, S = 3/4 * 1/2 = 3/8
        self.assertEqual(kaplan_meier([2, 4, 8, 9], [True, False, True, False]),
                         [(0, 1), (2, F(3, 4)), (8, F(3, 8))])

    def test_all_found_is_the_empirical_survival_function(self):
        # S(t) = share of trials with time > t: after 1: 3/4, after 2 (two): 1/4, after 4: 0
        self.assertEqual(kaplan_meier([2, 1, 4, 2], [1, 1, 1, 1]),
                         [(0, 1), (1, F(3, 4)), (2, F(1, 4)), (4, 0)])

    def test_found_at_time_zero_replaces_the_start(self):
        # at 0: 4 at risk, 1 found: S(0) = 3/4; at 5: 3 at risk: S = 3/4 * 2/3 = 1/2
        self.assertEqual(kaplan_meier([0, 5, 9, 9], [True, True, False, False]),
                         [(0, F(3, 4)), (5, F(1, 2))])

    def test_empty_and_all_censored(self):
        self.assertEqual(kaplan_meier([], []), [(0, 1.0)])
        self.assertEqual(kaplan_meier([10, 10, 10], [False] * 3), [(0, 1)])

    def test_bad_input(self):
        for times, found, words in (([1, 2], [True], "differ in length (2 and 1)"),
                                    ([1, -0.5], [True, True], "-0.5"),
                                    ([math.nan], [True], "nan"),
                                    ([math.inf], [False], "inf"),
                                    ([1], ["yes"], "'yes'")):
            with self.assertRaises(ValueError) as caught:
                kaplan_meier(times, found)
            self.assertIn(words, str(caught.exception))


class Median(unittest.TestCase):
    def test_km_median(self):
        self.assertEqual(km_median(km(SIX_MP)), 23)  # S(22) = .538 > 1/2, S(23) = .448
        # all found at 1 2 3 4: S = 3/4, 1/2, 1/4, 0: S(2) = 1/2 exactly, so 2 (not 2.5)
        self.assertEqual(km_median(kaplan_meier([4, 3, 2, 1], [True] * 4)), 2)
        # one of four found: S = 3/4 at best, never <= 1/2
        self.assertIsNone(km_median(kaplan_meier([1, 10, 10, 10], [1, 0, 0, 0])))
        self.assertIsNone(km_median(kaplan_meier([], [])))
        # found at 0 by 3 of 4: S(0) = 1/4
        self.assertEqual(km_median(kaplan_meier([0, 0, 0, 7], [True] * 4)), 0)

    def test_plain_median(self):
        self.assertIsNone(median([]))
        self.assertEqual(median([7]), 7)
        self.assertEqual(median([5, 1, 3]), 3)        # sorted 1 3 5
        self.assertEqual(median([4, 1, 3, 2]), 2.5)   # sorted 1 2 3 4: (2 + 3) / 2
        self.assertEqual(median(iter([0.5, 0.25])), 0.375)


class RestrictedMean(unittest.TestCase):
    def test_textbook_6mp_up_to_35(self):
        # 6*1 + 1*6/7 + 3*96/119 + 3*64/85 + 3*176/255 + 6*32/51 + 1*64/119 + 12*160/357
        # over 595 = 5*7*17: 3570 + 510 + 1440 + 1344 + 1232 + 2240 + 320 + 3200 = 13856
        self.assertEqual(restricted_mean(km(SIX_MP), 35), float(F(13856, 595)))  # ~ 23.29

    def test_censored_trials_hold_the_last_value_up_to_tau(self):
        # S = 1 on [0, 2), 2/3 on [2, 10): 2 + 8 * 2/3 = 22/3
        self.assertEqual(restricted_mean(kaplan_meier([2, 10, 10], [1, 0, 0]), 10),
                         float(F(22, 3)))
        self.assertEqual(restricted_mean(kaplan_meier([10] * 4, [False] * 4), 10), 10)
        self.assertEqual(restricted_mean(kaplan_meier([], []), 3.5), 3.5)

    def test_all_found_equals_mean_of_min_t_tau(self):
        # [2 4 4 7 10], tau 8: S = 1, 4/5, 2/5, 1/5 from 0, 2, 4, 7:
        # 2*1 + 2*4/5 + 3*2/5 + 1*1/5 = 5 = (2 + 4 + 4 + 7 + 8) / 5
        self.assertEqual(restricted_mean(kaplan_meier([2, 4, 4, 7, 10], [True] * 5), 8), 5)
        for times in ([2, 4, 4, 7, 10], [0.1, 2.5, 2.5, 3, 30.75], [0, 0, 5], [6]):
            curve = kaplan_meier(times, [True] * len(times))
            for tau in (0, 0.05, 2.5, 4, 7, 8, 100):
                expected = sum(F(min(t, tau)) for t in times) / len(times)
                self.assertEqual(restricted_mean(curve, tau), float(expected), (times, tau))

    def test_bad_tau(self):
        for tau in (-1, math.nan, math.inf):
            self.assertRaises(ValueError, restricted_mean, [(0, 1)], tau)


class SurvivalPoints(unittest.TestCase):
    def test_steps_end_at_tau(self):
        curve = kaplan_meier([2, 4, 4, 7, 10], [True] * 5)  # S = 4/5, 2/5, 1/5, 0
        self.assertEqual(survival_points(curve, 8),
                         ([0, 2, 4, 7, 8], [1, 0.8, 0.4, 0.2, 0.2]))
        # a drop exactly at tau shows as the last value
        self.assertEqual(survival_points(curve, 7), ([0, 2, 4, 7], [1, 0.8, 0.4, 0.2]))
        self.assertEqual(survival_points(curve, 3), ([0, 2, 3], [1, 0.8, 0.8]))
        self.assertEqual(survival_points(kaplan_meier([], []), 10), ([0, 10], [1, 1]))
        xs, ys = survival_points(km(SIX_MP), 35)
        self.assertTrue(all(type(v) is float for v in xs + ys))
        self.assertRaises(ValueError, survival_points, curve, -1)


def brute_force_u(x, y):
    return sum(1 if a > b else F(1, 2) if a == b else 0 for a in x for b in y)


class MannWhitney(unittest.TestCase):
    def test_null_counts_by_hand_and_by_enumeration(self):
        # n = m = 2, the 6 orderings and U_x (x-values above y-values):
        # xxyy 0, xyxy 1, xyyx 2, yxxy 2, yxyx 3, yyxx 4
        self.assertEqual(_u_null_counts(2, 2), [1, 1, 2, 1, 1])
        for n in range(1, 6):
            for m in range(1, 6):
                expected = [0] * (n * m + 1)
                for ranks in combinations(range(n + m), n):  # ranks of the x-values
                    expected[sum(r - i for i, r in enumerate(ranks))] += 1
                self.assertEqual(_u_null_counts(n, m), expected, (n, m))
        counts = _u_null_counts(50, 50)
        self.assertEqual(sum(counts), math.comb(100, 50))
        self.assertEqual(counts, counts[::-1])

    def test_exact_p_values(self):
        # n = m = 3 fully separated: U = 0 in 1 of comb(6, 3) = 20 orderings: p = 2/20
        self.assertEqual(mann_whitney_u([1, 2, 3], [4, 5, 6]), (0, 0.1))
        self.assertEqual(mann_whitney_u([4, 5, 6], [1, 2, 3]), (9, 0.1))
        # n = m = 5 fully separated: p = 2 / comb(10, 5) = 2/252
        self.assertEqual(mann_whitney_u([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]), (25, 2 / 252))
        # x = 1 2 5, y = 3 4 6 7: U_x = 2 (5 > 3, 4); orderings of 35 with U <= 2: u = 0 (1),
        # u = 1 (1), u = 2 (2) -> p = 2 * 4/35 = 8/35
        self.assertEqual(mann_whitney_u([1, 2, 5], [3, 4, 6, 7]), (2, 8 / 35))
        # U_x = 6 = n*m/2: the two tails overlap, p capped at 1
        self.assertEqual(mann_whitney_u([1, 5, 6], [2, 3, 4, 7]), (6, 1.0))
        # largest exact size: 50 values below 1: U = 0, the 51 orderings give u = 0 .. 50
        # once each: p = 2/51
        self.assertEqual(mann_whitney_u(range(50), [100]), (0, 2 / 51))

    def test_normal_approximation_above_the_exact_size(self):
        # 51 values below 1: mean 51/2, variance 51/12 * 53 = 2703/12 (no ties),
        # z = (25.5 - 0.5) / sqrt(225.25) = 1.6657..., p ~ 0.0958 (exact would be 2/52)
        u, p = mann_whitney_u(range(51), [100])
        self.assertEqual(u, 0)
        self.assertAlmostEqual(p, math.erfc(25 / math.sqrt(F(2703, 12)) / math.sqrt(2)), 12)
        self.assertAlmostEqual(p, 0.0958, 4)

    def test_censored_ties_at_the_limit(self):
        # T = 10: five censored trials against five found at 1..5. U_x = 25 (every pair),
        # mean 12.5; one tie group of 5: sum t^3 - t = 120; N = 10:
        # var = 25/12 * (11 - 120/90) = 25/12 * 29/3 = 725/36, sd = 4.4876...
        # z = (12.5 - 0.5) / sd = 2.6740..., p = erfc(z / sqrt 2) ~ 0.0075
        self.assertEqual(_u_variance(5, 5, [10] * 5 + [1, 2, 3, 4, 5]), F(725, 36))
        for x, y, u in (([10] * 5, [1, 2, 3, 4, 5], 25), ([1, 2, 3, 4, 5], [10] * 5, 0)):
            got_u, p = mann_whitney_u(x, y)
            self.assertEqual(got_u, u)
            self.assertAlmostEqual(p, math.erfc(12 / math.sqrt(F(725, 36)) / math.sqrt(2)), 12)
            self.assertAlmostEqual(p, 0.0075, 4)
        # x = 3 10 10, y = 10 10 10: U_x = 0 + 6 ties / 2 = 3, mean 9/2, |d| - 1/2 = 1;
        # a group of 5 (120), N = 6: var = 9/12 * (7 - 120/30) = 9/4, z = 1 / 1.5 = 2/3,
        # p = erfc(2/3 / sqrt 2) ~ 0.505
        u, p = mann_whitney_u([3, 10, 10], [10, 10, 10])
        self.assertEqual(u, 3)
        self.assertAlmostEqual(p, math.erfc(2 / 3 / math.sqrt(2)), 12)
        self.assertAlmostEqual(p, 0.505, 3)

    def test_mixed_ties(self):
        # x = 1 3 3 10, y = 3 5 10: x > y pairs: 10 > 3, 10 > 5 -> 2; ties: 3=3 twice,
        # 10=10 -> 3. U_x = 2 + 3/2 = 7/2; by hand U_y = 7 + 3/2 = 17/2; U_x + U_y = 12.
        # groups 3 (three: 24), 10 (two: 6), N = 7: var = 12/12 * (8 - 30/42) = 51/7;
        # z = (|3.5 - 6| - 0.5) / sqrt(51/7) = 2 / 2.6992 = 0.7410, p ~ 0.4587
        x, y = [1, 3, 3, 10], [3, 5, 10]
        u_x, p = mann_whitney_u(x, y)
        u_y, p_y = mann_whitney_u(y, x)
        self.assertEqual((u_x, u_y, u_x + u_y), (3.5, 8.5, 12))
        self.assertEqual(p, p_y)
        self.assertAlmostEqual(p, math.erfc(2 / math.sqrt(F(51, 7)) / math.sqrt(2)), 12)
        self.assertAlmostEqual(p, 0.4587, 4)

    def test_tie_variance_is_the_permutation_variance(self):
        # Var(U_x) over every split of the pooled values into n and m, computed directly
        for pooled, n in (([1, 1, 2, 3, 3, 3], 2), ([10] * 5 + [1, 2, 3], 3),
                          ([1, 2, 2, 4, 4, 5, 5, 5], 4), ([1, 2, 3, 4, 5], 2)):
            us = []
            for chosen in combinations(range(len(pooled)), n):
                x = [pooled[i] for i in chosen]
                y = [v for i, v in enumerate(pooled) if i not in chosen]
                us.append(brute_force_u(x, y))
            mean = sum(us) / len(us)
            self.assertEqual(mean, F(n * (len(pooled) - n), 2))
            self.assertEqual(_u_variance(n, len(pooled) - n, pooled),
                             sum((u - mean) ** 2 for u in us) / len(us), pooled)

    def test_degenerate(self):
        self.assertEqual(mann_whitney_u([7], [7]), (0.5, 1.0))
        self.assertEqual(mann_whitney_u([10] * 5, [10] * 5), (12.5, 1.0))
        self.assertEqual(mann_whitney_u([1], [2]), (0, 1.0))  # 2 orderings: p = 2 * 1/2
        for x, y in (([], [1]), ([1], []), ([1, math.nan], [2])):
            self.assertRaises(ValueError, mann_whitney_u, x, y)


class VarghaDelaney(unittest.TestCase):
    def test_values(self):
        # identical 1 2 3 / 1 2 3: 3 pairs greater, 3 tied of 9: (3 + 1.5) / 9
        self.assertEqual(vargha_delaney_a12([1, 2, 3], [1, 2, 3]), 0.5)
        self.assertEqual(vargha_delaney_a12([1, 2], [3, 4, 5]), 0.0)
        self.assertEqual(vargha_delaney_a12([3, 4, 5], [1, 2]), 1.0)
        # 1 3 3 10 vs 3 5 10 (see test_mixed_ties): (2 + 3/2) / 12 = 7/24
        self.assertEqual(vargha_delaney_a12([1, 3, 3, 10], [3, 5, 10]), 7 / 24)
        self.assertEqual(vargha_delaney_a12([3, 5, 10], [1, 3, 3, 10]), 17 / 24)
        # five censored at 10 against 1..5: x is slower in every pair
        self.assertEqual(vargha_delaney_a12([10] * 5, [1, 2, 3, 4, 5]), 1.0)
        # 2 10 10 vs 10 10 1: 2 > 1; 10 > 1 twice; 10 = 10 four times: (3 + 2) / 9
        self.assertEqual(vargha_delaney_a12([2, 10, 10], [10, 10, 1]), 5 / 9)

    def test_is_u_over_nm(self):
        x, y = [1, 3, 3, 10, 10], [3, 5, 10, 2]
        self.assertEqual(vargha_delaney_a12(x, y), mann_whitney_u(x, y)[0] / 20)

    def test_bad_input(self):
        self.assertRaises(ValueError, vargha_delaney_a12, [], [1])
        self.assertRaises(ValueError, vargha_delaney_a12, [1], [math.inf])

    def test_magnitude(self):
        for a, name in ((0.5, "negligible"), (0.55, "negligible"), (0.45, "negligible"),
                        (0.56, "small"), (0.44, "small"), (0.63, "small"),
                        (0.64, "medium"), (0.36, "medium"), (0.70, "medium"),
                        (7 / 24, "medium"),  # 0.2917 > 0.29
                        (0.71, "large"), (0.29, "large"), (0.0, "large"), (1.0, "large"),
                        (11 / 25, "small")):  # 0.44 computed, the same float as 0.44
            self.assertEqual(a12_magnitude(a), name, a)
        for a in (-0.1, 1.5, math.nan):
            self.assertRaises(ValueError, a12_magnitude, a)


if __name__ == "__main__":
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(
        unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__]))
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print(f"{result.testsRun - failed - len(result.skipped)} passed, {failed} failed")
    sys.exit(1 if failed else 0)
