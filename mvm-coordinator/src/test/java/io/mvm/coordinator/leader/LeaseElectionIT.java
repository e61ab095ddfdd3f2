package io.mvm.coordinator.leader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.coordinator.testing.ManualClock;
import io.mvm.coordinator.testing.TestDatabase;
import io.mvm.store.db.ClusterSettings;
import io.mvm.store.db.Database;
import io.mvm.store.leader.LeaseStore;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The leader lease on real PostgreSQL with a clock the test moves: who may take over when, and
 * that a leader whose epoch was superseded while it was paused cannot commit a write.
 */
class LeaseElectionIT {
    private static final Duration LEASE = Duration.ofSeconds(5);
    private static TestDatabase testDb;
    private static Database db;
    private final ClusterSettings settings = new ClusterSettings();

    @BeforeAll
    static void open() {
        testDb = TestDatabase.postgres();
        db = Database.open(testDb.url());
    }

    @AfterAll
    static void close() {
        db.close();
        testDb.close();
    }

    private long currentEpoch() {
        return db.read(tx -> new LeaseStore().find(tx, LeaseElection.LEASE)).orElseThrow().epoch();
    }

    private static void onAnotherThread(Runnable r) {
        try {
            java.util.concurrent.CompletableFuture.runAsync(r, java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor())
                    .get(30, java.util.concurrent.TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    /** Leaves the lease free for the next test (its electors never tick again). */
    private static void release(LeaseElection... electors) {
        for (LeaseElection e : electors) {
            e.resign();
        }
    }

    @Test
    void aFollowerTakesOverOnlyAfterSeeingTheLeaseUnrenewedForAWholeLease() {
        ManualClock clock = new ManualClock(Instant.parse("2026-12-03T10:00:00Z"));
        LeaseElection a = new LeaseElection(db, "a-" + System.nanoTime(), clock, LEASE, false);
        LeaseElection b = new LeaseElection(db, "b-" + System.nanoTime(), clock, LEASE, false);
        long before = currentEpoch();
        a.tick();
        assertThat(a.isLeader()).as("a free lease is taken at once").isTrue();
        assertThat(a.epoch()).hasValue(before + 1);
        b.tick();
        assertThat(b.isLeader()).isFalse();

        // The leader keeps renewing: however long that goes on, the follower stays a follower.
        for (int i = 0; i < 10; i++) {
            clock.advance(Duration.ofSeconds(1));
            a.tick();
            b.tick();
        }
        assertThat(a.isLeader()).isTrue();
        assertThat(b.isLeader()).isFalse();

        // The leader stops (killed): one lease minus a millisecond is not enough...
        clock.advance(LEASE.minusMillis(1));
        b.tick();
        assertThat(b.isLeader()).isFalse();
        assertThat(a.isLeader()).as("its own belief ends with its lease").isTrue();
        // ...a whole lease is.
        clock.advance(Duration.ofMillis(1));
        assertThat(a.isLeader()).isFalse();
        b.tick();
        assertThat(b.isLeader()).isTrue();
        assertThat(b.epoch()).hasValue(before + 2);

        // The old leader wakes up: its renewal fails, it follows.
        a.tick();
        assertThat(a.isLeader()).isFalse();
        assertThat(a.asLeader(() -> "ran")).isEmpty();
        release(a, b);
    }

    @Test
    void aPausedLeaderThatWakesUpCannotCommitOverItsSuccessor() {
        ManualClock clock = new ManualClock(Instant.parse("2026-12-03T11:00:00Z"));
        LeaseElection old = new LeaseElection(db, "old-" + System.nanoTime(), clock, LEASE, false);
        LeaseElection successor = new LeaseElection(db, "new-" + System.nanoTime(), clock, LEASE, false);
        old.tick();
        successor.tick();
        assertThat(old.isLeader()).isTrue();
        long oldEpoch = old.epoch().orElseThrow();

        // The old leader decides inside its fenced scope, then pauses (GC, SIGSTOP) for longer than a
        // lease; meanwhile the successor takes over and decides differently.
        assertThatThrownBy(() -> old.asLeader(() -> {
            String decision = db.read(tx -> settings.get(tx, "fence-test")).orElse("none");
            assertThat(decision).isEqualTo("none");
            clock.advance(LEASE.plusSeconds(1));
            // The successor is another process: its own thread here, outside the old leader's fence.
            onAnotherThread(() -> {
                successor.tick();
                assertThat(successor.isLeader()).isTrue();
                successor.asLeader(() -> db.inTransaction(tx -> settings.putIfAbsent(tx, "fence-test", "successor")));
            });
            // It wakes and writes what it decided before the pause.
            return db.inTransaction(tx -> {
                tx.update("UPDATE cluster_settings SET value = ? WHERE name = ?", "old-leader", "fence-test");
                return null;
            });
        })).isInstanceOf(FencedOutException.class).hasMessageContaining("epoch " + oldEpoch);

        assertThat(db.read(tx -> settings.get(tx, "fence-test")).orElseThrow()).isEqualTo("successor");
        assertThat(successor.epoch()).hasValue(oldEpoch + 1);
        assertThat(old.isLeader()).as("a fenced-out write makes it step down").isFalse();
        release(old, successor);
    }

    @Test
    void aFenceCheckedBeforeTheTakeoverLetsTheTakeoverWaitForTheCommit() {
        ManualClock clock = new ManualClock(Instant.parse("2026-12-03T12:00:00Z"));
        LeaseElection leader = new LeaseElection(db, "l-" + System.nanoTime(), clock, LEASE, false);
        leader.tick();
        // A write fenced by the current epoch commits; the epoch did not move.
        long epoch = leader.epoch().orElseThrow();
        Optional<String> wrote = leader.asLeader(() -> db.inTransaction(tx -> settings.putIfAbsent(tx, "fenced-ok", "1")));
        assertThat(wrote).contains("1");
        assertThat(currentEpoch()).isEqualTo(epoch);
        release(leader);
    }

    @Test
    void aLeaderCutOffFromTheDatabaseStepsDownAndAFollowerTakesOver() {
        ManualClock clock = new ManualClock(Instant.parse("2026-12-03T15:00:00Z"));
        Database own = Database.open(testDb.url()); // the leader's own connections, cut below
        LeaseElection cutOff = new LeaseElection(own, "cut-" + System.nanoTime(), clock, LEASE, false);
        LeaseElection follower = new LeaseElection(db, "f-" + System.nanoTime(), clock, LEASE, false);
        cutOff.tick();
        follower.tick();
        assertThat(cutOff.isLeader()).isTrue();
        long epoch = cutOff.epoch().orElseThrow();
        own.close();
        for (int i = 0; i < 5; i++) {
            clock.advance(Duration.ofSeconds(1));
            cutOff.tick(); // fails: no database
            follower.tick();
        }
        assertThat(cutOff.isLeader()).as("a lease without renewal ends by itself").isFalse();
        assertThat(cutOff.asLeader(() -> "ran")).isEmpty();
        follower.tick();
        assertThat(follower.isLeader()).isTrue();
        assertThat(follower.epoch()).hasValue(epoch + 1);
        release(follower);
    }

    @Test
    void aResignedLeaseIsTakenAtTheNextTickWithoutWaiting() {
        ManualClock clock = new ManualClock(Instant.parse("2026-12-03T13:00:00Z"));
        LeaseElection a = new LeaseElection(db, "ra-" + System.nanoTime(), clock, LEASE, false);
        LeaseElection b = new LeaseElection(db, "rb-" + System.nanoTime(), clock, LEASE, false);
        a.tick();
        b.tick();
        assertThat(a.isLeader()).isTrue();
        a.resign();
        assertThat(a.isLeader()).isFalse();
        b.tick();
        assertThat(b.isLeader()).as("no lease to wait out after a clean stop").isTrue();
        release(b);
    }

    @Test
    void aCoordinatorAloneOnItsDatabaseTakesOverAtOnce() {
        ManualClock clock = new ManualClock(Instant.parse("2026-12-03T14:00:00Z"));
        LeaseElection killed = new LeaseElection(db, "k-" + System.nanoTime(), clock, LEASE, false);
        killed.tick();
        assertThat(killed.isLeader()).isTrue();
        // Restarted after a kill -9 on SQLite (the file lock proves it is alone): no lease to wait out.
        LeaseElection restarted = new LeaseElection(db, "k2-" + System.nanoTime(), clock, LEASE, true);
        restarted.tick();
        assertThat(restarted.isLeader()).isTrue();
        release(killed, restarted);
    }
}
