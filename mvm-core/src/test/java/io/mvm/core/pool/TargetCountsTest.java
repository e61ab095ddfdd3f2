package io.mvm.core.pool;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.DesiredCounts;
import io.mvm.model.MvmException;
import org.junit.jupiter.api.Test;

class TargetCountsTest {

    @Test
    void countsWhoseSumOverflowsAnIntAreRefused() {
        assertThatThrownBy(() -> new TargetCounts(1, 0, Integer.MAX_VALUE, 0))
                .isInstanceOf(MvmException.class)
                .hasMessageContaining("more than a pool can hold");
        assertThatThrownBy(() -> new TargetCounts(Integer.MAX_VALUE, Integer.MAX_VALUE, 2, 0))
                .hasMessageContaining("more than a pool can hold");
        assertThatThrownBy(() -> new DesiredCounts(Integer.MAX_VALUE, 1, 0))
                .hasMessageContaining("more than a pool can hold");
    }

    @Test
    void theLargestRepresentableTotalIsStillExact() {
        TargetCounts counts = new TargetCounts(Integer.MAX_VALUE - 3, 1, 1, 1);
        assertThat(counts.total()).isEqualTo(Integer.MAX_VALUE);
        assertThatThrownBy(() -> counts.plus(DesiredState.RUNNING)).hasMessageContaining("more than a pool can hold");
    }

    @Test
    void movingOneInstanceKeepsTheTotal() {
        TargetCounts counts = new TargetCounts(2, 1, 0, 0).move(DesiredState.RUNNING, DesiredState.SLEEPING);
        assertThat(counts).isEqualTo(new TargetCounts(1, 1, 1, 0));
        assertThat(counts.total()).isEqualTo(3);
    }
}
