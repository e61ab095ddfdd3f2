package io.mvm.core.liveness;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.liveness.LostNodeHold.Decision;
import io.mvm.model.NodeId;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class LostNodeHoldTest {
    private static final NodeId NODE = NodeId.of("node-a");
    private static final Instant UNTIL = Instant.parse("2026-12-01T10:01:00Z");
    private static final Instant BEFORE = UNTIL.minusSeconds(1);
    private static final Instant AFTER = UNTIL.plusSeconds(1);

    @Test
    void withinTheGracePeriodEverythingStays() {
        for (OnNodeLost rule : OnNodeLost.values()) {
            for (boolean data : new boolean[] {false, true}) {
                assertThat(LostNodeHold.decide(NODE, UNTIL, BEFORE, rule, data, false))
                        .isInstanceOfSatisfying(Decision.Stay.class,
                                s -> assertThat(s.reason()).contains("stay there until " + UNTIL));
            }
        }
    }

    @Test
    void afterTheGracePeriodOnlyInstancesWithoutDataMoveByDefault() {
        assertThat(LostNodeHold.decide(NODE, UNTIL, AFTER, OnNodeLost.AUTO, false, false))
                .isInstanceOf(Decision.Move.class);
        assertThat(LostNodeHold.decide(NODE, UNTIL, AFTER, OnNodeLost.AUTO, true, false))
                .isInstanceOfSatisfying(Decision.Stay.class, s -> assertThat(s.reason())
                        .contains("waits for it").contains("on_node_lost=auto").contains("mvm instance evacuate"));
        assertThat(LostNodeHold.decide(NODE, UNTIL, AFTER, OnNodeLost.WAIT, false, false))
                .isInstanceOf(Decision.Stay.class);
        assertThat(LostNodeHold.decide(NODE, UNTIL, AFTER, OnNodeLost.RECREATE, true, false))
                .isInstanceOf(Decision.Move.class);
    }

    @Test
    void anEvacuationMovesAtOnceWhateverTheRule() {
        for (OnNodeLost rule : OnNodeLost.values()) {
            assertThat(LostNodeHold.decide(NODE, UNTIL, BEFORE, rule, true, true)).isInstanceOf(Decision.Move.class);
        }
    }
}
