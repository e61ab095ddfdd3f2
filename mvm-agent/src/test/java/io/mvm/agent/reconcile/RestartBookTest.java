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

    @Test
    void aBookWithAFileIsReadBackByTheNextAgent(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        var file = java.util.Optional.of(dir.resolve("restarts.json"));
        var backoff = new ExponentialBackoff(Duration.ofSeconds(2), Duration.ofSeconds(60));
        var kept = new RestartBook(backoff, Duration.ofMinutes(10), file);
        kept.recordRestart(ID, 1, "crash", T0);
        kept.recordRestart(InstanceId.of("w2"), 2, "hung", T0);
        kept.recordGaveUp(InstanceId.of("w2"), "hung; gave up", desired(Target.RUNNING, "r1"));

        var next = new RestartBook(backoff, Duration.ofMinutes(10), file);
        assertThat(next.snapshot()).isEqualTo(kept.snapshot());
        assertThat(next.get(InstanceId.of("w2"))).isEqualTo(new RestartHistory(2, T0.plusSeconds(4), true, "hung; gave up"));

        // The give-up is tied to what was desired then: a new revision clears it, the same one does not.
        next.settle(InstanceId.of("w2"), false, desired(Target.RUNNING, "r1"), T0);
        assertThat(next.get(InstanceId.of("w2")).gaveUp()).isTrue();
        next.forget(ID);
        assertThat(new RestartBook(backoff, Duration.ofMinutes(10), file).get(ID)).isEqualTo(RestartHistory.NONE);
    }

    @Test
    void anUnreadableBookIsMovedAsideAndTheAgentStartsEmpty(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        var path = dir.resolve("restarts.json");
        java.nio.file.Files.writeString(path, "{\"version\": 99, \"instances\": []}");
        var book = new RestartBook(new ExponentialBackoff(Duration.ofSeconds(2), Duration.ofSeconds(60)),
                Duration.ofMinutes(10), java.util.Optional.of(path));
        assertThat(book.snapshot()).isEmpty();
        assertThat(dir.resolve("restarts.json.unreadable")).exists();
    }
}
