package io.mvm.coordinator.node;

import io.mvm.coordinator.scheduler.Scheduler;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The coordinator's periodic task (the leader's only): declares silent nodes lost and runs a scheduling pass. Its
 * body never throws (a failed round is logged and the next one tries again); the clock it judges
 * silence by is the injected one, so tests can move time.
 */
public final class Housekeeping implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Housekeeping.class);
    private final NodeService nodes;
    private final Scheduler scheduler;
    private final ScheduledExecutorService timer;
    private final java.util.List<Runnable> chores;
    private final io.mvm.coordinator.leader.Leadership leadership;

    /** {@code chores} run after each round's scheduling pass (each must not throw; a throw is logged). */
    public Housekeeping(NodeService nodes, Scheduler scheduler, java.util.List<Runnable> chores,
                        io.mvm.coordinator.leader.Leadership leadership) {
        this.leadership = leadership;
        this.nodes = nodes;
        this.scheduler = scheduler;
        this.chores = java.util.List.copyOf(chores);
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mvm-housekeeping");
            t.setDaemon(true);
            return t;
        });
    }

    public void start(Duration period) {
        long ms = period.toMillis();
        timer.scheduleWithFixedDelay(this::runOnce, ms, ms, TimeUnit.MILLISECONDS);
    }

    /**
     * One round, if this coordinator leads (a follower's rounds do nothing); every write it makes
     * is fenced by the lease epoch. Safe to call from tests at any time.
     */
    public void runOnce() {
        leadership.runAsLeader(this::round);
    }

    private void round() {
        try {
            nodes.markSilentNodesLost();
            scheduler.converge();
        } catch (RuntimeException t) {
            log.warn("housekeeping round failed, retrying next round: {}", t.toString());
        }
        for (Runnable chore : chores) {
            try {
                chore.run();
            } catch (RuntimeException t) {
                log.warn("housekeeping chore failed, retrying next round: {}", t.toString());
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
        try {
            timer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
