package io.mvm.cli.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class BenchStatisticsTest {

    @Test
    void medianOfOddAndEvenCounts() {
        assertThat(BenchStatistics.median(List.of(5.0, 1.0, 3.0))).isEqualTo(3.0);
        assertThat(BenchStatistics.median(List.of(4.0, 1.0, 3.0, 2.0))).isEqualTo(2.5);
        assertThat(BenchStatistics.min(List.of(4.0, 1.5, 3.0))).isEqualTo(1.5);
    }

    @Test
    void quantilesInterpolateBetweenRanksLikeNumpy() {
        double[] sorted = {1, 2, 3, 4, 5};
        assertThat(BenchStatistics.quantile(sorted, 0.0)).isEqualTo(1.0);
        assertThat(BenchStatistics.quantile(sorted, 0.25)).isEqualTo(2.0);
        assertThat(BenchStatistics.quantile(sorted, 0.975)).isCloseTo(4.9, within(1e-9));
        assertThat(BenchStatistics.quantile(sorted, 1.0)).isEqualTo(5.0);
    }

    @Test
    void theBootstrapIntervalIsReproducibleSurroundsTheMedianAndNarrowsWithAgreeingRuns() {
        List<Double> noisy = List.of(0.93, 1.01, 0.97, 1.12, 0.99, 1.04, 0.95, 1.20, 1.00);
        BenchStatistics.Interval interval = BenchStatistics.bootstrapMedian95(noisy, 10_000, 7);

        assertThat(BenchStatistics.bootstrapMedian95(noisy, 10_000, 7)).isEqualTo(interval);
        assertThat(interval.low()).isLessThanOrEqualTo(BenchStatistics.median(noisy));
        assertThat(interval.high()).isGreaterThanOrEqualTo(BenchStatistics.median(noisy));
        assertThat(interval.low()).isGreaterThanOrEqualTo(0.93);
        assertThat(interval.high()).isLessThanOrEqualTo(1.20);

        BenchStatistics.Interval agreeing = BenchStatistics.bootstrapMedian95(List.of(1.0, 1.0, 1.0, 1.0, 1.0), 1_000, 7);
        assertThat(agreeing).isEqualTo(new BenchStatistics.Interval(1.0, 1.0));
        assertThat(interval.high() - interval.low()).isGreaterThan(0.01);
    }
}
