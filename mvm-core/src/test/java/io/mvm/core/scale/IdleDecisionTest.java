package io.mvm.core.scale;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.MvmException;
import java.time.Duration;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class IdleDecisionTest {
    private static final Instant T0 = Instant.parse("2026-12-03T12:00:00Z");
    private static final IdlePolicy POLICY = new IdlePolicy(Duration.ofSeconds(60), Duration.ofMinutes(15),
            Duration.ofSeconds(30), 0.05);

    /** state, seconds since active, seconds since last activity, open connections, cpu, background → verdict. */
    static Stream<Arguments> table() {
        return Stream.of(
                Arguments.of(IdleState.RUNNING, 10, 100, 0, 0.0, 0, "Stay", "min_runtime"),
                Arguments.of(IdleState.RUNNING, 100, 100, 0, 0.0, 0, "Warm", "idle 100 s, 0 bytes, cpu 0.0 % → warm"),
                Arguments.of(IdleState.RUNNING, 100, 59, 0, 0.0, 0, "Stay", "idle 59 s of 60 s"),
                Arguments.of(IdleState.RUNNING, 100, 61, 0, 0.003, 0, "Warm", "idle 61 s, 0 bytes, cpu 0.3 % → warm"),
                Arguments.of(IdleState.RUNNING, 100, 100, 1, 0.0, 0, "Stay", "1 open connections"),
                Arguments.of(IdleState.RUNNING, 100, 100, 0, 0.0, 2, "Stay", "2 background tasks"),
                Arguments.of(IdleState.RUNNING, 100, 100, 0, 0.05, 0, "Stay", "cpu 5.0 %"),
                Arguments.of(IdleState.RUNNING, 2000, 1000, 0, 0.0, 0, "Sleep", "→ sleeping"),
                // Activity before the last wake does not count: idle time starts at the wake.
                Arguments.of(IdleState.RUNNING, 40, 5000, 0, 0.0, 0, "Stay", "idle 40 s of 60 s"),
                Arguments.of(IdleState.WARM, 100, 100, 0, 0.0, 0, "Stay", "warm, idle 100 s of 900 s"),
                Arguments.of(IdleState.WARM, 1000, 900, 0, 0.0, 0, "Sleep", "idle 900 s, 0 bytes, cpu 0.0 % → sleeping"),
                Arguments.of(IdleState.SLEEPING, 9000, 9000, 0, 0.0, 0, "Stay", "sleeping"));
    }

    @ParameterizedTest
    @MethodSource("table")
    void decides(IdleState state, int activeAgo, int activityAgo, int open, double cpu, int background, String verdict,
                 String reason) {
        var in = new IdleInputs(state, T0.minusSeconds(activeAgo), T0.minusSeconds(activityAgo), open, 0, cpu,
                background);
        var d = IdleDecision.decide(POLICY, in, T0);
        assertThat(d.getClass().getSimpleName()).isEqualTo(verdict);
        assertThat(d.reason()).contains(reason);
    }

    @Test
    void policyAndDurationsAreChecked() {
        assertThatThrownBy(() -> new IdlePolicy(Duration.ofSeconds(60), Duration.ofSeconds(10), Duration.ZERO, 0.1))
                .isInstanceOf(MvmException.class).hasMessageContaining("sleep_after");
        assertThatThrownBy(() -> new IdlePolicy(Duration.ZERO, Duration.ofSeconds(10), Duration.ZERO, 0.1))
                .hasMessageContaining("warm_after");
        assertThatThrownBy(() -> new IdlePolicy(Duration.ofSeconds(1), Duration.ofSeconds(10), Duration.ZERO, 1.5))
                .hasMessageContaining("cpu_threshold");
        assertThat(IdlePolicy.parseDuration("warm_after", "90s")).isEqualTo(Duration.ofSeconds(90));
        assertThat(IdlePolicy.parseDuration("warm_after", "15m")).isEqualTo(Duration.ofMinutes(15));
        assertThat(IdlePolicy.parseDuration("warm_after", "250ms")).isEqualTo(Duration.ofMillis(250));
        assertThat(IdlePolicy.parseDuration("warm_after", "7")).isEqualTo(Duration.ofSeconds(7));
        assertThatThrownBy(() -> IdlePolicy.parseDuration("warm_after", "7d")).hasMessageContaining("ms, s, m or h");
        assertThatThrownBy(() -> IdlePolicy.parseDuration("warm_after", "soon")).hasMessageContaining("not a duration");
        for (var d : new Duration[] {Duration.ofMillis(1500), Duration.ofSeconds(90), Duration.ofMinutes(15),
                Duration.ofHours(2), Duration.ZERO}) {
            assertThat(IdlePolicy.parseDuration("x", IdlePolicy.formatDuration(d))).isEqualTo(d);
        }
        assertThatThrownBy(() -> PortMapping.tcp(0, 0)).hasMessageContaining("guest");
        assertThatThrownBy(() -> new PortMapping(80, 0, "udp")).hasMessageContaining("tcp");
        assertThatThrownBy(() -> new Exposure(java.util.List.of(PortMapping.tcp(80, 0), PortMapping.tcp(80, 1)),
                java.util.Optional.empty())).hasMessageContaining("twice");
        assertThatThrownBy(() -> new Exposure(java.util.List.of(), java.util.Optional.of(IdlePolicy.DEFAULTS)))
                .hasMessageContaining("needs at least one port");
    }
}
