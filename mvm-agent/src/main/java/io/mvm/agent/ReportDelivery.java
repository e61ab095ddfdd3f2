package io.mvm.agent;

import io.mvm.agent.coordinator.CoordinatorClient;
import io.mvm.agent.coordinator.ObservedReport;
import io.mvm.agent.events.EventOutbox;
import io.mvm.agent.events.InstanceEvent;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.NodeId;
import java.util.List;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends one observed-state report with the oldest unsent events, so that one event the
 * coordinator will never accept cannot block every later report.
 *
 * <p>A report refused as malformed (400, 413 or 422: {@link ErrorCategory#INVALID_ARGUMENT}) will be
 * refused again however often it is re-sent, unlike an outage. So the batch of events is halved and
 * sent again at once until the refused event is alone in its report; that one is logged and
 * dropped (events are diagnostics, a node's state is not). A bisection, not one event per report,
 * so a healthy backlog still drains in a few requests and a too-large batch (413) shrinks to one
 * that fits. A report refused with no events at all is not an event's fault: that error goes to
 * the caller, which backs off as for any other failure.
 *
 * <p>Used by the report loop only, one call at a time.
 */
final class ReportDelivery {
    private static final Logger log = LoggerFactory.getLogger(ReportDelivery.class);

    private final EventOutbox outbox;
    private final CoordinatorClient coordinator;
    private final Function<List<InstanceEvent>, ObservedReport> build;
    private final int maxEvents;

    /**
     * @param build     the report to send with these events (observed afresh on every attempt)
     * @param maxEvents the most events one report carries
     */
    ReportDelivery(EventOutbox outbox, CoordinatorClient coordinator,
                   Function<List<InstanceEvent>, ObservedReport> build, int maxEvents) {
        if (maxEvents < 1) {
            throw new IllegalArgumentException("a report must be able to carry an event");
        }
        this.outbox = outbox;
        this.coordinator = coordinator;
        this.build = build;
        this.maxEvents = maxEvents;
    }

    /**
     * One report accepted (with as many of the oldest events as the coordinator takes), or the
     * coordinator's error when it refused a report for another reason than its events.
     */
    void deliver(NodeId node) {
        int batch = maxEvents;
        while (true) {
            var events = outbox.peek(batch);
            try {
                coordinator.reportObserved(node, build.apply(events));
                outbox.acknowledge(events);
                if (batch == maxEvents || outbox.size() == 0) {
                    return;
                }
                // Still bisecting around a refused event: send the rest now, not a report interval later.
                batch = Math.min(maxEvents, batch * 2);
            } catch (MvmException e) {
                if (e.category() != ErrorCategory.INVALID_ARGUMENT || events.isEmpty()) {
                    throw e;
                }
                if (events.size() > 1) {
                    batch = events.size() / 2;
                    continue;
                }
                var poisoned = events.getFirst();
                log.warn("coordinator refuses event {} of {} at {} as malformed ({}); dropped",
                        poisoned.type(), poisoned.instance(), poisoned.time(), e.getMessage());
                outbox.discard(poisoned);
            }
        }
    }
}
