package io.mvm.cli.bench;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Small, dependency-free statistics for boot benchmarks on a noisy host. Boot times carry additive
 * noise (steal time, other tenants), so next to medians the benchmark reports minimums (the
 * estimator least disturbed by additive noise) and a bootstrap confidence interval of the median
 * per-run ratio, so a reader can see whether a goal is met beyond the noise or only on average.
 */
public final class BenchStatistics {
    /** A two-sided interval, e.g. the 95% bootstrap interval of a median. */
    record Interval(double low, double high) {}

    private BenchStatistics() {}

    static double median(List<Double> values) {
        return quantile(sorted(values), 0.5);
    }

    static double min(List<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).min().orElseThrow();
    }

    /**
     * Percentile bootstrap of the median: resample {@code values} with replacement {@code resamples}
     * times and take the 2.5% and 97.5% quantiles of the resampled medians. Seeded, so the same
     * per-run data always gives the same interval.
     */
    static Interval bootstrapMedian95(List<Double> values, int resamples, long seed) {
        if (values.isEmpty()) {
            throw new IllegalArgumentException("no values");
        }
        double[] data = values.stream().mapToDouble(Double::doubleValue).toArray();
        double[] medians = new double[resamples];
        SplittableRandom random = new SplittableRandom(seed);
        double[] sample = new double[data.length];
        for (int r = 0; r < resamples; r++) {
            for (int i = 0; i < data.length; i++) {
                sample[i] = data[random.nextInt(data.length)];
            }
            Arrays.sort(sample);
            medians[r] = quantile(sample, 0.5);
        }
        Arrays.sort(medians);
        return new Interval(quantile(medians, 0.025), quantile(medians, 0.975));
    }

    /** Linear interpolation between closest ranks (type 7, what R and NumPy use by default). */
    public static double quantile(double[] sorted, double p) {
        if (sorted.length == 0) {
            throw new IllegalArgumentException("no values");
        }
        double position = p * (sorted.length - 1);
        int below = (int) Math.floor(position);
        int above = Math.min(below + 1, sorted.length - 1);
        return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
    }

    static double p99(List<Double> values) {
        return quantile(sorted(values), 0.99);
    }

    /** Milliseconds to the microsecond, as the JSON reports them. */
    static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    static Interval rounded(Interval i) {
        return new Interval(round(i.low()), round(i.high()));
    }

    private static double[] sorted(List<Double> values) {
        double[] out = values.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(out);
        return out;
    }
}
