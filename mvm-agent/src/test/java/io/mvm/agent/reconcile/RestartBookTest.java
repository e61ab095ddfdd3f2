package io.mvm.agent.reconcile;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.agent.queue.ExponentialBackoff;
import io.mvm.core.reconcile.DesiredInstance;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.RestartHistory;
import io.mvm.core.reconcile.Target;
import io.mvm.model.InstanceId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RestartBookTest {
    static final Instant T0 = Instant.parse("2026-11-21T12:00:00Z");
    static final InstanceId ID = InstanceId.of("w1");
    final RestartBook book = new RestartBook(new ExponentialBackoff(Duration.ofSeconds(2), Duration.ofSeconds(60)),
            Duration.ofMinutes(10));

    static DesiredInstance desired(Target target, String revision) {
        return new DesiredInstance(new InstanceSpec(ID, TenantId.of("acme"), PoolName.of("workers"), Role.WORKER, 1,
                256, 0, new NetworkSpec("10.0.0.2", 24, "10.0.0.1", Optional.empty(), 1), List.of(), Map.of(),
                Map.of(), Map.of(), revision), target);
    }

    @Test
    void eachRestartPushesTheNextOneFurtherOut() {
        book.recordRestart(ID, 1, "crash", T0);
        assertThat(book.get(ID)).isEqualTo(new RestartHistory(1, T0.plusSeconds(2), false, "crash"));
        book.recordRestart(ID, 2, "crash", T0.plusSeconds(2));
        assertThat(book.get(ID).notBefore()).isEqualTo(T0.plusSeconds(6));
        book.recordRestart(ID, 3, "crash", T0.plusSeconds(6));
        assertThat(book.get(ID).notBefore()).isEqualTo(T0.plusSeconds(14));
    }

    @Test
    void aStableInstanceStartsOverButAnUnstableOneDoesNot() {
        book.recordRestart(ID, 1, "crash", T0);
        book.settle(ID, true, desired(Target.RUNNING, "r1"), T0.plusSeconds(60));
        assertThat(book.get(ID).restarts()).isEqualTo(1);
        book.settle(ID, false, desired(Target.RUNNING, "r1"), T0.plusSeconds(3600));
        assertThat(book.get(ID).restarts()).isEqualTo(1);
        book.settle(ID, true, desired(Target.RUNNING, "r1"), T0.plusSeconds(2 + 600));
        assertThat(book.get(ID)).isEqualTo(RestartHistory.NONE);
    }

    @Test
    void aGiveUpLastsUntilTheCoordinatorWantsSomethingElse() {
        book.recordRestart(ID, 3, "crash", T0);
        book.recordGaveUp(ID, "crash; gave up after 3 restarts", desired(Target.RUNNING, "r1"));
        book.settle(ID, true, desired(Target.RUNNING, "r1"), T0.plusSeconds(86_400));
        assertThat(book.get(ID).gaveUp()).isTrue();

        book.settle(ID, false, desired(Target.RUNNING, "r2"), T0.plusSeconds(86_401));
        assertThat(book.get(ID)).isEqualTo(RestartHistory.NONE);
    }
}
