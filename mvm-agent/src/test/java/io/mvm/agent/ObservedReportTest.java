package io.mvm.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.Registration;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.agent.runtime.Orphan;
import io.mvm.core.placement.Capacity;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** What the node tells the coordinator about a VM it cannot read, and about data it set aside. */
class ObservedReportTest {
    static final InstantSource CLOCK = InstantSource.fixed(Instant.parse("2026-12-03T10:00:00Z"));
    static final InstanceId ID = InstanceId.of("w1");

    record StubRuntime(List<LocalVm> vms, Supplier<List<Orphan>> orphanList) implements InstanceRuntime {
        @Override public List<LocalVm> observe() { return vms; }
        @Override public List<Orphan> orphans() { return orphanList.get(); }
        @Override public void create(InstanceSpec spec) { throw new AssertionError(); }
        @Override public void start(InstanceSpec spec) { throw new AssertionError(); }
        @Override public void pause(InstanceId id) { throw new AssertionError(); }
        @Override public void resume(InstanceId id) { throw new AssertionError(); }
        @Override public void sleep(InstanceId id, Duration d) { throw new AssertionError(); }
        @Override public void wake(InstanceSpec spec) { throw new AssertionError(); }
        @Override public void stop(InstanceId id) { throw new AssertionError(); }
        @Override public void destroy(InstanceId id) { throw new AssertionError(); }
        @Override public Optional<Path> evict(InstanceId id, String reason) { throw new AssertionError(); }
        @Override public void restart(InstanceSpec spec) { throw new AssertionError(); }
        @Override public boolean probeGuest(InstanceId id, Duration timeout) { return true; }
        @Override public Accelerator accelerator() { return Accelerator.TCG; }
    }

    static final CoordinatorClient NO_COORDINATOR = new CoordinatorClient() {
        @Override public Registration register(NodeRegistration registration) { throw new AssertionError(); }
        @Override public void heartbeat(NodeId node, int instanceCount) { throw new AssertionError(); }
        @Override public DesiredSnapshot desired(NodeId node, OptionalLong after, Duration wait) {
            throw new AssertionError();
        }
        @Override public void reportObserved(NodeId node, ObservedReport report) { throw new AssertionError(); }
    };

    static ObservedReport report(StubRuntime runtime) {
        var settings = AgentSettings.defaults(NodeId.of("n1"), new Capacity(4, 4096, 10_000), Map.of(),
                Duration.ofSeconds(1));
        try (var agent = new AgentService(settings, runtime, NO_COORDINATOR, CLOCK)) {
            return agent.buildReport(List.of());
        }
    }

    @Test
    void aVmWhoseStateCouldNotBeReadIsReportedUnknownWithTheReasonNotFailed() {
        var vm = new LocalVm(ID, TenantId.of("acme"), Role.WORKER, VmState.UNKNOWN, OptionalLong.of(42),
                Optional.of("its QMP monitor did not answer (silent for 3 s; failed after 60 s)"));

        var report = report(new StubRuntime(List.of(vm), List::of));

        assertThat(report.instances()).singleElement().satisfies(r -> {
            assertThat(r.state()).isEqualTo(InstanceState.UNKNOWN);
            assertThat(r.lastError()).hasValueSatisfying(e -> assertThat(e).contains("did not answer"));
            assertThat(r.pid()).hasValue(42);
        });
    }

    @Test
    void orphansAreReportedAtNodeLevelAndLeftOutWhenTheyCannotBeListed() {
        var orphan = new Orphan("w9", Path.of("/data/orphans/w9-20261203T100000.000Z"), 4096, "moved",
                CLOCK.instant());

        assertThat(report(new StubRuntime(List.of(), () -> List.of(orphan))).orphans()).hasValue(List.of(orphan));
        assertThat(report(new StubRuntime(List.of(), List::of)).orphans()).hasValue(List.of());
        assertThat(report(new StubRuntime(List.of(), () -> {
            throw MvmException.internal("cannot list orphans", null);
        })).orphans()).as("absent, never an empty list that would mean 'none'").isEmpty();
    }

    @Test
    void guestControlledErrorsAndEventMessagesAreCutBeforeTheyAreSentOrKept(@org.junit.jupiter.api.io.TempDir Path dir) {
        // e.g. a failed exec quoting 5 MB of the guest's stderr
        var flood = "x".repeat(5_000_000);
        var vm = new LocalVm(ID, TenantId.of("acme"), Role.WORKER, VmState.CRASHED, OptionalLong.empty(),
                Optional.of(flood));
        var settings = AgentSettings.defaults(NodeId.of("n1"), new Capacity(4, 4096, 10_000), Map.of(),
                Duration.ofSeconds(1));
        var event = new io.mvm.agent.events.InstanceEvent(CLOCK.instant(), ID, "error", flood);

        ObservedReport report;
        try (var agent = new AgentService(settings, new StubRuntime(List.of(vm), List::of), NO_COORDINATOR, CLOCK)) {
            report = agent.buildReport(List.of(event));
        }

        assertThat(report.instances()).singleElement().satisfies(r -> {
            assertThat(r.lastError()).hasValueSatisfying(e ->
                    assertThat(e).hasSize(io.mvm.model.BoundedText.MESSAGE_LIMIT).endsWith("(5000000 chars, cut)"));
            assertThat(r.events()).singleElement().satisfies(e ->
                    assertThat(e.message()).hasSize(io.mvm.model.BoundedText.MESSAGE_LIMIT));
        });
        var outbox = new io.mvm.agent.events.EventOutbox(10, Optional.of(dir.resolve("outbox.json")));
        outbox.add(event);
        assertThat(dir.resolve("outbox.json").toFile().length()).as("kept on disk bounded too").isLessThan(2_000);
    }
}
