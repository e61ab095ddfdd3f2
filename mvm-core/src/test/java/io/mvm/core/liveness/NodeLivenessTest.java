package io.mvm.core.liveness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class NodeLivenessTest {
    private static final Instant T0 = Instant.parse("2026-12-01T10:00:00Z");
    private static final LivenessPolicy POLICY = LivenessPolicy.defaults(Duration.ofSeconds(30));

    private static NodePulse ready(String id, Instant heartbeat) {
        return new NodePulse(NodeId.of(id), true, Optional.of(heartbeat));
    }

    private static NodePulse lost(String id, Instant heartbeat) {
        return new NodePulse(NodeId.of(id), false, Optional.of(heartbeat));
    }

    private static List<NodeId> ids(String... ids) {
        return List.of(ids).stream().map(NodeId::of).toList();
    }

    @Test
    void aNodeSilentLongerThanTheTimeoutIsLost() {
        var verdict = NodeLiveness.judge(List.of(ready("a", T0), ready("b", T0.plusSeconds(25))), T0.minusSeconds(600),
                List.of(), T0.plusSeconds(31), POLICY);
        assertThat(verdict.markLost()).isEqualTo(ids("a"));
        assertThat(verdict.disrupted()).isFalse();
    }

    @Test
    void silenceIsCountedFromTheCoordinatorsStartNotFromAHeartbeatStoredBeforeItsOutage() {
        // Both nodes heartbeated last at T0; the coordinator was down 100 s and started at T0+100.
        Instant start = T0.plusSeconds(100);
        var nodes = List.of(ready("a", T0), ready("b", T0));
        assertThat(NodeLiveness.judge(nodes, start, List.of(), start.plusSeconds(1), POLICY).markLost()).isEmpty();
        assertThat(NodeLiveness.judge(nodes, start, List.of(), start.plusSeconds(29), POLICY).markLost()).isEmpty();
        // One came back, the other stays silent past the timeout counted from the start.
        var oneBack = List.of(ready("a", start.plusSeconds(3)), ready("b", T0));
        assertThat(NodeLiveness.judge(oneBack, start, List.of(), start.plusSeconds(31), POLICY).markLost())
                .isEqualTo(ids("b"));
        // And its grace period also counts from the start, not from its old heartbeat.
        assertThat(NodeLiveness.holdUntil(Optional.of(T0), start, POLICY)).isEqualTo(start.plusSeconds(60));
        assertThat(NodeLiveness.holdUntil(Optional.of(start.plusSeconds(5)), start, POLICY))
                .isEqualTo(start.plusSeconds(65));
    }

    @Test
    void atMostATenthOfTheFleetAndAtLeastOneNodeIsDeclaredLostPerWindowLongestSilentFirst() {
        List<NodePulse> nodes = new ArrayList<>();
        IntStream.range(0, 20).forEach(i -> nodes.add(ready(String.format("n%02d", i), T0.plusSeconds(20 - i))));
        Instant now = T0.plusSeconds(100); // every node silent over 30 s
        // 20 nodes, all silent: that is a disruption, nothing is declared lost.
        assertThat(NodeLiveness.judge(nodes, T0, List.of(), now, POLICY).disrupted()).isTrue();

        // 5 of 20 silent: at most 2 per window (a tenth), the longest silent first.
        List<NodePulse> mixed = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            mixed.add(ready(String.format("n%02d", i), i < 5 ? T0.plusSeconds(i) : now));
        }
        var verdict = NodeLiveness.judge(mixed, T0, List.of(), now, POLICY);
        assertThat(verdict.markLost()).isEqualTo(ids("n00", "n01"));
        assertThat(verdict.deferred()).isEqualTo(ids("n02", "n03", "n04"));
        // Two were declared 10 s ago: nothing more in this window; once it has passed, two more.
        List<Instant> recent = List.of(now.minusSeconds(10), now.minusSeconds(10));
        assertThat(NodeLiveness.judge(mixed, T0, recent, now, POLICY).markLost()).isEmpty();
        assertThat(NodeLiveness.judge(mixed, T0, recent, now.plusSeconds(21), POLICY).markLost()).hasSize(2);
        // A small fleet still loses one node per window.
        assertThat(POLICY.lostPerWindow(3)).isEqualTo(1);
        assertThat(POLICY.lostPerWindow(1000)).isEqualTo(100);
    }

    @Test
    void whenMostOfTheFleetIsSilentAtOnceTheCoordinatorTrustsNothingAndWatchesAgainFromNow() {
        Instant now = T0.plusSeconds(300);
        var verdict = NodeLiveness.judge(List.of(ready("a", T0), ready("b", T0)), T0, List.of(), now, POLICY);
        assertThat(verdict.disrupted()).isTrue();
        assertThat(verdict.markLost()).isEmpty();
        assertThat(verdict.deferred()).isEqualTo(ids("a", "b"));
        assertThat(verdict.observingSince()).isEqualTo(now);
        // One lost earlier plus one silent now is also a disruption in a fleet of two.
        assertThat(NodeLiveness.judge(List.of(lost("a", T0), ready("b", T0)), T0, List.of(), now, POLICY).disrupted())
                .isTrue();
        // One of three silent is not.
        var oneOfThree = List.of(ready("a", T0), ready("b", now), ready("c", now));
        var v = NodeLiveness.judge(oneOfThree, T0, List.of(), now, POLICY);
        assertThat(v.disrupted()).isFalse();
        assertThat(v.markLost()).isEqualTo(ids("a"));
        // A fleet of one is never "disrupted": its node is simply lost.
        assertThat(NodeLiveness.judge(List.of(ready("a", T0)), T0, List.of(), now, POLICY).markLost())
                .isEqualTo(ids("a"));
    }

    @Test
    void aNodeThatNeverHeartbeatedCountsFromTheStartOfObservation() {
        var pulse = new NodePulse(NodeId.of("a"), true, Optional.empty());
        assertThat(NodeLiveness.judge(List.of(pulse, ready("b", T0.plusSeconds(40))), T0, List.of(),
                T0.plusSeconds(29), POLICY).markLost()).isEmpty();
        assertThat(NodeLiveness.judge(List.of(pulse, ready("b", T0.plusSeconds(40))), T0, List.of(),
                T0.plusSeconds(41), POLICY).markLost()).isEqualTo(ids("a"));
    }

    @Test
    void policiesAreCheckedAtConstruction() {
        assertThatThrownBy(() -> new LivenessPolicy(Duration.ofSeconds(30), Duration.ofSeconds(10), 0.1,
                Duration.ofSeconds(30), 0.55)).isInstanceOf(MvmException.class).hasMessageContaining("reschedule");
        assertThatThrownBy(() -> new LivenessPolicy(Duration.ofSeconds(30), Duration.ofSeconds(60), 0,
                Duration.ofSeconds(30), 0.55)).isInstanceOf(MvmException.class).hasMessageContaining("share");
    }
}
