package io.mvm.coordinator.leader;

import io.mvm.store.db.Database;
import io.mvm.store.leader.CoordinatorStore;
import io.mvm.store.leader.Lease;
import io.mvm.store.leader.LeaseStore;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leader lease, held in a row of the shared database (not a PostgreSQL advisory lock: an
 * advisory lock lives and dies with one connection, which a connection pool hides and a proxy
 * may keep open for a dead process, and it has no epoch to fence writes with).
 *
 * <p>Each {@link #tick} the holder renews the row (its own compare-and-set on holder and epoch);
 * every other coordinator reads the row and notes when, by its own clock, it last saw the row
 * change. A row unchanged for a whole lease is taken over by compare-and-set to epoch + 1; a row
 * without holder (the leader stopped cleanly) at once. Times are never compared across hosts, so
 * clock offsets between coordinators do not matter (only their rates, which NTP keeps close).
 *
 * <p>The holder believes it leads only until {@code lease} after the moment it sent its last
 * successful renewal, which is before any follower can have seen that renewal and started
 * waiting; and its writes are fenced by the epoch anyway ({@link #asLeader}). Ticks, the clock
 * and stepping down ({@link #resign}) are the caller's to drive, so a simulation can force a
 * change of leader.
 */
public final class LeaseElection implements Leadership, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(LeaseElection.class);
    public static final String LEASE = "coordinator";
    /** Coordinators silent for longer are dropped from the registry (killed ones never deregister). */
    static final Duration FORGET_AFTER = Duration.ofHours(1);

    private final Database db;
    private final LeaseStore leases = new LeaseStore();
    private final CoordinatorStore coordinators = new CoordinatorStore();
    private final String id;
    private volatile String address = "-";
    private final InstantSource clock;
    private final Duration lease;
    private final boolean alone;
    private final Instant startedAt;
    private final List<Runnable> onElected = new CopyOnWriteArrayList<>();
    private final Object tickLock = new Object();
    private ScheduledExecutorService timer;

    /** The lease as this coordinator holds it, or null while it follows. */
    private volatile Term term;
    private String seen;
    private Instant seenAt;
    private boolean registered;
    private Instant lastPrune;

    /** A held lease: its epoch, since when, and when the last successful renewal was sent. */
    public record Term(long epoch, Instant since, Instant renewedAt) {}

    /**
     * @param alone this coordinator is known to be the only one (SQLite, guarded by a file lock):
     *              it takes the lease at once instead of waiting out a dead predecessor's lease
     */
    public LeaseElection(Database db, String id, InstantSource clock, Duration lease, boolean alone) {
        this.db = db;
        this.id = id;
        this.clock = clock;
        this.lease = lease;
        this.alone = alone;
        this.startedAt = clock.instant();
    }

    public String id() {
        return id;
    }

    public Duration lease() {
        return lease;
    }

    /** Runs whenever this coordinator becomes the leader (on the ticking thread, before its loops run). */
    public void onElected(Runnable listener) {
        onElected.add(listener);
    }

    /**
     * Registers this coordinator under {@code address} (where its API listens), runs one tick now
     * (so a lone coordinator leads from its first request) and then ticks every fifth of the lease.
     */
    public LeaseElection start(String address) {
        this.address = address;
        tick();
        long every = Math.max(50, lease.toMillis() / 5);
        timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mvm-leader");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleWithFixedDelay(this::tick, every, every, TimeUnit.MILLISECONDS);
        return this;
    }

    /** One round: renew the lease if held, else watch it and take it over once it has lapsed. Never throws. */
    public void tick() {
        synchronized (tickLock) {
            Instant now = clock.instant();
            try {
                if (!registered) {
                    db.inTransaction(tx -> {
                        coordinators.register(tx, id, address, startedAt);
                        return null;
                    });
                    registered = true;
                } else {
                    db.inTransaction(tx -> {
                        coordinators.seen(tx, id, now);
                        return null;
                    });
                }
                Term held = term;
                if (held != null) {
                    // Renewed even when overdue (this process was paused, say): the renewal is a compare-
                    // and-set on the epoch, so it succeeds only if nobody took over meanwhile, and then
                    // nobody else has led since and this term simply goes on.
                    if (db.inTransaction(tx -> leases.renew(tx, LEASE, id, held.epoch(), now, now.plus(lease)))) {
                        term = new Term(held.epoch(), held.since(), now);
                        if (lastPrune == null || !now.isBefore(lastPrune.plus(Duration.ofMinutes(1)))) {
                            lastPrune = now;
                            db.inTransaction(tx -> coordinators.prune(tx, now.minus(FORGET_AFTER)));
                        }
                        return;
                    } else {
                        stepDown(held, "another coordinator holds it now");
                    }
                }
                Lease row = db.read(tx -> leases.find(tx, LEASE)).orElseThrow(() ->
                        new IllegalStateException("leader_lease row '" + LEASE + "' is missing"));
                if (!row.fingerprint().equals(seen)) {
                    seen = row.fingerprint();
                    seenAt = now;
                }
                boolean lapsed = row.holder().isEmpty() || row.holder().get().equals(id) || alone
                        || !now.isBefore(seenAt.plus(lease));
                if (lapsed) {
                    Optional<Long> won = db.inTransaction(tx -> leases.takeOver(tx, row, id, now, now.plus(lease)));
                    if (won.isPresent()) {
                        term = new Term(won.get(), now, now);
                        log.info("coordinator {} leads (lease epoch {}, previous holder {})", id, won.get(),
                                row.holder().orElse("none"));
                        for (Runnable r : onElected) {
                            r.run();
                        }
                    }
                }
            } catch (RuntimeException e) {
                Term held = term;
                if (held != null && !now.isBefore(held.renewedAt().plus(lease))) {
                    stepDown(held, "the database did not answer: " + e.getMessage());
                } else {
                    log.warn("leader lease round failed, retrying: {}", e.toString());
                }
            }
        }
    }

    private void stepDown(Term held, String why) {
        term = null;
        log.warn("coordinator {} no longer leads (lease epoch {}): {}", id, held.epoch(), why);
    }

    @Override
    public boolean isLeader() {
        Term t = term;
        return t != null && clock.instant().isBefore(t.renewedAt().plus(lease));
    }

    /** The lease as held now, if this coordinator leads. */
    public Optional<Term> term() {
        return isLeader() ? Optional.ofNullable(term) : Optional.empty();
    }

    public OptionalLong epoch() {
        return term().map(t -> OptionalLong.of(t.epoch())).orElse(OptionalLong.empty());
    }

    @Override
    public <T> Optional<T> asLeader(Supplier<T> body) {
        Term t = term;
        if (t == null || !isLeader()) {
            return Optional.empty();
        }
        long epoch = t.epoch();
        return Optional.ofNullable(db.fenced(tx -> {
            if (!leases.holds(tx, LEASE, id, epoch)) {
                fencedOut(epoch);
                throw new FencedOutException(epoch);
            }
        }, body));
    }

    private void fencedOut(long epoch) {
        Term held = term;
        if (held != null && held.epoch() == epoch) {
            stepDown(held, "a write found lease epoch " + epoch + " superseded");
        }
    }

    /** Stops ticking and, if leading, gives the lease up so a follower takes over at its next tick. */
    public void resign() {
        if (timer != null) {
            timer.shutdownNow();
            try {
                timer.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (tickLock) {
            Term held = term;
            term = null;
            if (held != null) {
                try {
                    db.inTransaction(tx -> leases.resign(tx, LEASE, id, held.epoch(), clock.instant()));
                    log.info("coordinator {} resigned the lease (epoch {})", id, held.epoch());
                } catch (RuntimeException e) {
                    log.warn("could not resign the lease (it lapses by itself): {}", e.toString());
                }
            }
        }
    }

    /** Resigns and deregisters. */
    @Override
    public void close() {
        resign();
        try {
            db.inTransaction(tx -> {
                coordinators.remove(tx, id);
                return null;
            });
        } catch (RuntimeException e) {
            log.warn("could not deregister coordinator {}: {}", id, e.toString());
        }
    }
}
