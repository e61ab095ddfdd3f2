package io.mvm.core.fence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.fence.SelfFence.Stage;
import io.mvm.model.MvmException;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

class SelfFenceTest {
    private static final Instant T0 = Instant.parse("2026-12-03T10:00:00Z");

    @Test
    void theDefaultTimelineStopsNewWorkAtThirtySecondsAndPausesAtFortyFive() {
        SelfFence f = SelfFence.DEFAULT;
        assertThat(f.judge(T0, T0)).isEqualTo(Stage.CONNECTED);
        assertThat(f.judge(T0, T0.plusMillis(29_999))).isEqualTo(Stage.CONNECTED);
        assertThat(f.judge(T0, T0.plusSeconds(30))).isEqualTo(Stage.NO_NEW_WORK);
        assertThat(f.judge(T0, T0.plusMillis(44_999))).isEqualTo(Stage.NO_NEW_WORK);
        assertThat(f.judge(T0, T0.plusSeconds(45))).isEqualTo(Stage.PAUSED);
        assertThat(f.judge(T0, T0.plusSeconds(3600))).isEqualTo(Stage.PAUSED);
    }

    @Test
    void theDefaultsPauseBeforeTheCoordinatorMayPlaceReplacements() {
        // Lost at 30 s, moved at 60 s (LivenessPolicy.defaults): paused at 45 s.
        assertThat(SelfFence.DEFAULT.pausesBeforeReplacement(Duration.ofSeconds(30))).isTrue();
        assertThat(new SelfFence(Duration.ofSeconds(30), Duration.ofSeconds(30))
                .pausesBeforeReplacement(Duration.ofSeconds(30))).isFalse();
    }

    @Test
    void aZeroPauseDelayPausesAsSoonAsTheLeaseRunsOut() {
        SelfFence f = new SelfFence(Duration.ofSeconds(5), Duration.ZERO);
        assertThat(f.judge(T0, T0.plusMillis(4_999))).isEqualTo(Stage.CONNECTED);
        assertThat(f.judge(T0, T0.plusSeconds(5))).isEqualTo(Stage.PAUSED);
    }

    @Test
    void aClockThatWentBackCountsAsRecentContact() {
        assertThat(SelfFence.DEFAULT.judge(T0, T0.minusSeconds(100))).isEqualTo(Stage.CONNECTED);
    }

    @Test
    void nonsenseDelaysAreRefused() {
        assertThatThrownBy(() -> new SelfFence(Duration.ZERO, Duration.ZERO)).isInstanceOf(MvmException.class);
        assertThatThrownBy(() -> new SelfFence(Duration.ofSeconds(1), Duration.ofSeconds(-1)))
                .isInstanceOf(MvmException.class);
    }
}
