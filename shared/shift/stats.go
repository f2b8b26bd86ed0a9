package shift

import "math"

// The error-rate test.
//
// A canary serves a slice of a random routing (Lambda aliases: "at low
// traffic levels, you might see a high variance"), so a rate read off a
// handful of calls says little: 1 failed call of 1 is a 100 % rate and
// proves nothing. Each invocation of the new version is treated as a
// Bernoulli trial and judged with exact binomial statistics, which hold at
// any sample size (no normal approximation):
//
//   - unhealthy when the one-sided exact binomial test rejects, at level
//     alpha, that the new version's error rate is at most the limit
//     (P(X >= errors | n, limit) < alpha);
//   - healthy only when the one-sided Clopper–Pearson upper confidence bound
//     of the rate (confidence 1 - alpha) is within the limit: with 0 errors
//     that needs about 4.6/limit invocations at alpha 0.01, so a few quiet
//     calls never pass a release on their own;
//   - inconclusive in between: keep baking.
//
// References: NIST/SEMATECH e-Handbook of Statistical Methods, 7.2.4
// "Does the proportion of defectives meet requirements?" (exact binomial
// test and Clopper–Pearson interval); Clopper & Pearson, Biometrika 1934.
// The limit compares like with like: the stable version's own rate over
// the same window plus the allowed excess (see verdictFor).

// binomTailAtLeast is P(X >= k) for X ~ Binomial(n, p).
func binomTailAtLeast(k, n int, p float64) float64 {
	switch {
	case k <= 0:
		return 1
	case k > n:
		return 0
	case p <= 0:
		return 0
	case p >= 1:
		return 1
	}
	return 1 - binomCDF(k-1, n, p)
}

// binomCDF is P(X <= k) for X ~ Binomial(n, p), summed in log space.
func binomCDF(k, n int, p float64) float64 {
	if k < 0 {
		return 0
	}
	if k >= n {
		return 1
	}
	lp, lq := math.Log(p), math.Log1p(-p)
	lgN, _ := math.Lgamma(float64(n + 1))
	sum := 0.0
	for i := 0; i <= k; i++ {
		a, _ := math.Lgamma(float64(i + 1))
		b, _ := math.Lgamma(float64(n - i + 1))
		sum += math.Exp(lgN - a - b + float64(i)*lp + float64(n-i)*lq)
	}
	return math.Min(sum, 1)
}

// upperBound is the one-sided Clopper–Pearson upper confidence bound of a
// binomial rate with k successes in n trials: the p at which P(X <= k) =
// alpha, found by bisection (P(X <= k) falls as p grows).
func upperBound(k, n int, alpha float64) float64 {
	if n <= 0 {
		return 1
	}
	if k >= n {
		return 1
	}
	lo, hi := float64(k)/float64(n), 1.0
	for range 60 {
		mid := (lo + hi) / 2
		if binomCDF(k, n, mid) > alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
