package io.mvm.core.placement;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class CapacityClaimTest {
    private static final Capacity APPROVED = new Capacity(8, 16384, 100_000);

    @Test
    void theFirstClaimIsApprovedAsItIs() {
        var c = CapacityClaim.judge(APPROVED, Optional.empty());
        assertThat(c.effective()).isEqualTo(APPROVED);
        assertThat(c.pending()).isEmpty();
    }

    @Test
    void aBiggerClaimCountsOnlyUpToTheApprovalUntilAnAdminApprovesIt() {
        var bigger = new Capacity(64, 16384, 100_000);
        var c = CapacityClaim.judge(bigger, Optional.of(APPROVED));
        assertThat(c.effective()).isEqualTo(APPROVED);
        assertThat(c.pending()).contains(bigger);
        // bigger in one dimension, smaller in another: the smaller applies, the bigger waits
        var mixed = new Capacity(4, 65536, 100_000);
        var m = CapacityClaim.judge(mixed, Optional.of(APPROVED));
        assertThat(m.effective()).isEqualTo(new Capacity(4, 16384, 100_000));
        assertThat(m.pending()).contains(mixed);
    }

    @Test
    void aSmallerClaimAppliesAtOnce() {
        var smaller = new Capacity(2, 4096, 50_000);
        var c = CapacityClaim.judge(smaller, Optional.of(APPROVED));
        assertThat(c.effective()).isEqualTo(smaller);
        assertThat(c.pending()).isEmpty();
    }
}
