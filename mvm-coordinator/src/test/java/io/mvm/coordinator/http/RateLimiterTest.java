package io.mvm.coordinator.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceId;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class RateLimiterTest {
    @Test
    void aBurstIsAllowedThenTheRateAppliesPerKey() {
        AtomicLong now = new AtomicLong(0);
        RateLimiter limiter = new RateLimiter(2, 3, now::get);
        assertThat(limiter.acquire("a")).isZero();
        assertThat(limiter.acquire("a")).isZero();
        assertThat(limiter.acquire("a")).isZero();
        assertThat(limiter.acquire("a")).as("burst spent: wait").isEqualTo(1);
        assertThat(limiter.acquire("b")).as("another key has its own bucket").isZero();
        now.addAndGet(500_000_000L); // half a second: one token back at 2/s
        assertThat(limiter.acquire("a")).isZero();
        assertThat(limiter.acquire("a")).isEqualTo(1);
        now.addAndGet(10_000_000_000L); // long idle: refilled to the burst, not beyond
        for (int i = 0; i < 3; i++) {
            assertThat(limiter.acquire("a")).isZero();
        }
        assertThat(limiter.acquire("a")).isPositive();
    }

    @Test
    void execSlotsAreCappedPerInstanceAndInAll() {
        ExecLimiter execs = new ExecLimiter(2, 3);
        InstanceId a = InstanceId.of("i-aaaaaaaaaaaa");
        InstanceId b = InstanceId.of("i-bbbbbbbbbbbb");
        assertThat(execs.tryEnter(a)).isTrue();
        assertThat(execs.tryEnter(a)).isTrue();
        assertThat(execs.tryEnter(a)).as("per instance").isFalse();
        assertThat(execs.tryEnter(b)).isTrue();
        assertThat(execs.tryEnter(b)).as("in all").isFalse();
        execs.exit(a);
        assertThat(execs.tryEnter(b)).isTrue();
    }
}
