package io.mvm.core.rollout;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.core.rollout.RolloutPlanner.Decision;
import io.mvm.core.rollout.RolloutPlanner.Member;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** The rollout decision as a table: instances (revision, intent, observed, age) → what to do. */
class RolloutPlannerTest {
    static final Instant NOW = Instant.parse("2026-12-03T12:00:00Z");
    static final Duration TIMEOUT = Duration.ofMinutes(5);

    /** "i-1 old running running 60" : id, revision (old/new/-), desired, observed, age in seconds. */
    static List<Member> members(String... rows) {
        List<Member> out = new ArrayList<>();
        for (String row : rows) {
            String[] f = row.split(" ");
            out.add(new Member(InstanceId.of(f[0]), f[1].equals("-") ? Optional.empty() : Optional.of(f[1]),
                    DesiredState.valueOf(f[2].toUpperCase()), InstanceState.parse(f[3]),
                    NOW.minusSeconds(Long.parseLong(f[4]))));
        }
        return out;
    }

    static Stream<Arguments> table() {
        return Stream.of(
                Arguments.of("all on target and healthy: done", 1,
                        members("i-1 new running running 60", "i-2 new warm warm 60"), "done 2"),
                Arguments.of("oldest old instance first, one at a time", 1,
                        members("i-2 old running running 50", "i-1 old running running 90", "i-3 old running running 10"),
                        "replace [i-1] pending [] old 3"),
                Arguments.of("max_unavailable 2 replaces two at once", 2,
                        members("i-1 old running running 90", "i-2 old running running 50", "i-3 old running running 10"),
                        "replace [i-1, i-2] pending [] old 3"),
                Arguments.of("a pending replacement blocks the next", 1,
                        members("i-1 old running running 90", "i-9 new running creating 5"),
                        "replace [] pending [i-9] old 1"),
                Arguments.of("a healthy replacement lets the next go", 1,
                        members("i-1 old running running 90", "i-9 new running running 5"),
                        "replace [i-1] pending [] old 1"),
                Arguments.of("one of two slots used", 2,
                        members("i-1 old running running 90", "i-2 old running running 80", "i-9 new running pending 5"),
                        "replace [i-1] pending [i-9] old 2"),
                Arguments.of("a warm replacement is healthy when warm", 1,
                        members("i-1 old warm warm 90", "i-9 new warm warm 5"), "replace [i-1] pending [] old 1"),
                Arguments.of("a failed replacement halts", 1,
                        members("i-1 old running running 90", "i-9 new running failed 5"), "halt i-9 failed"),
                Arguments.of("a replacement not healthy in time halts", 1,
                        members("i-1 old running running 900", "i-9 new running creating 301"), "halt i-9 not healthy after 300 s"),
                Arguments.of("destroyed instances do not count", 1,
                        members("i-1 old destroyed running 90", "i-9 new running running 5"), "done 1"),
                Arguments.of("not yet placed instances are pinned to the target later, not old", 1,
                        members("i-1 - running pending 5", "i-2 new running running 50"), "replace [] pending [i-1] old 0"),
                Arguments.of("rollback: the failed new one is old now and goes first", 1,
                        members("i-9 bad running failed 30", "i-2 old2 running running 10"), "replace [i-9] pending [] old 2"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void decides(String name, int maxUnavailable, List<Member> members, String expected) {
        String target = name.startsWith("rollback") ? "target" : "new";
        Decision d = RolloutPlanner.decide(target, members, maxUnavailable, NOW, TIMEOUT);
        String got = switch (d) {
            case Decision.Done done -> "done " + done.onTarget();
            case Decision.Replace r -> "replace " + r.replace().stream().map(InstanceId::value).toList() + " pending "
                    + r.pending().stream().map(InstanceId::value).toList() + " old " + r.old();
            case Decision.Halt h -> "halt " + h.failed().value() + " " + h.reason();
        };
        if (expected.startsWith("halt")) {
            String[] parts = expected.split(" ", 3);
            assertThat(got).startsWith("halt " + parts[1]).contains(parts[2]).contains("rollback");
        } else {
            assertThat(got).isEqualTo(expected);
        }
    }

    @Test
    void maxUnavailableMustBePositive() {
        assertThatThrownBy(() -> RolloutPlanner.decide("new", List.of(), 0, NOW, TIMEOUT))
                .hasMessageContaining("max_unavailable");
    }
}
