package io.mvm.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.InstanceReport;
import io.mvm.agent.coordinator.NodeRegistration;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.coordinator.Registration;
import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.core.reconcile.DesiredSnapshot;
import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.Predicate;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The report loop's sending step against a fake coordinator that refuses some events as malformed. */
class ReportDeliveryTest {
    static final Instant T0 = Instant.parse("2026-12-03T10:00:00Z");
    static final NodeId NODE = NodeId.of("n1");
    static final InstanceId ID = InstanceId.of("w1");

    /** Accepts a report unless {@code refuse} matches one of its events (then 400, as the coordinator does). */
    static final class FakeCoordinator implements CoordinatorClient {
        final List<InstanceEvent> accepted = new ArrayList<>();
        int reports;
        Predicate<InstanceEvent> refuse = e -> false;
        MvmException outage;

        @Override public Registration register(NodeRegistration registration) { throw new AssertionError(); }
        @Override public void heartbeat(NodeId node, int instanceCount) { throw new AssertionError(); }
        @Override public DesiredSnapshot desired(NodeId node, OptionalLong after, Duration wait) {
            throw new AssertionError();
        }

        @Override
        public void reportObserved(NodeId node, ObservedReport report) {
            reports++;
            if (outage != null) {
                throw outage;
            }
            var events = report.instances().stream().flatMap(r -> r.events().stream()).toList();
            if (events.stream().anyMatch(refuse)) {
                throw new MvmException(ErrorCategory.INVALID_ARGUMENT,
                        "coordinator answered 400 to POST /v1/nodes/n1/observed: event message is malformed");
            }
            accepted.addAll(events);
        }
    }

    static InstanceEvent event(int n) {
        return new InstanceEvent(T0.plusSeconds(n), ID, "created", "event " + n);
    }

    static ObservedReport report(List<InstanceEvent> events) {
        return new ObservedReport(1, List.of(new InstanceReport(ID, InstanceState.RUNNING, OptionalLong.of(42),
                Accelerator.TCG, Optional.empty(), events)));
    }

    static EventOutbox outboxWith(int count) {
        var outbox = new EventOutbox(1000);
        IntStream.rangeClosed(1, count).forEach(n -> outbox.add(event(n)));
        return outbox;
    }

    @Test
    void anEventRefusedAsMalformedIsDroppedAndTheOthersStillArriveInOrder() {
        var outbox = outboxWith(40);
        var coordinator = new FakeCoordinator();
        coordinator.refuse = e -> e.equals(event(7));
        var delivery = new ReportDelivery(outbox, coordinator, ReportDeliveryTest::report, 16);

        // Every round of the report loop delivers; today's loop re-sent the same refused batch each round.
        for (int round = 0; round < 3; round++) {
            delivery.deliver(NODE);
        }

        assertThat(coordinator.accepted).containsExactlyElementsOf(
                IntStream.rangeClosed(1, 40).filter(n -> n != 7).mapToObj(ReportDeliveryTest::event).toList());
        assertThat(outbox.size()).isZero();
        assertThat(outbox.dropped()).as("the refused event is counted as dropped").isEqualTo(1);
        assertThat(coordinator.reports).as("a bisection, not one event per request").isLessThan(20);
    }

    @Test
    void aReportRefusedWithoutEventsIsTheCallersErrorAndDropsNothing() {
        var outbox = new EventOutbox(10);
        var coordinator = new FakeCoordinator();
        coordinator.outage = MvmException.invalid("coordinator answered 422 to POST /v1/nodes/n1/observed: bad state");
        var delivery = new ReportDelivery(outbox, coordinator, ReportDeliveryTest::report, 16);

        assertThatThrownBy(() -> delivery.deliver(NODE)).hasMessageContaining("422");
        assertThat(coordinator.reports).isEqualTo(1);
    }

    @Test
    void anOutageKeepsEveryEventForTheNextRound() {
        var outbox = outboxWith(5);
        var coordinator = new FakeCoordinator();
        coordinator.outage = MvmException.unavailable("coordinator at http://c is unreachable: connection refused", null);
        var delivery = new ReportDelivery(outbox, coordinator, ReportDeliveryTest::report, 16);

        assertThatThrownBy(() -> delivery.deliver(NODE)).hasMessageContaining("unreachable");

        assertThat(outbox.size()).isEqualTo(5);
        assertThat(outbox.dropped()).isZero();
        coordinator.outage = null;
        delivery.deliver(NODE);
        assertThat(coordinator.accepted).hasSize(5);
    }
}
