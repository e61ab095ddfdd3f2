package io.mvm.agent.queue;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class KeyedWorkQueueIT {
    static final ExponentialBackoff FAST = new ExponentialBackoff(Duration.ofMillis(10), Duration.ofMillis(80));
    KeyedWorkQueue<String> queue;

    /** A backoff no test waits out: a pass that runs again after a failure was brought forward. */
    static final ExponentialBackoff HOUR = new ExponentialBackoff(Duration.ofHours(1), Duration.ofHours(2));

    KeyedWorkQueue<String> start(int workers, Function<String, PassResult> pass) {
        return start(workers, FAST, pass);
    }

    KeyedWorkQueue<String> start(int workers, ExponentialBackoff backoff, Function<String, PassResult> pass) {
        queue = new KeyedWorkQueue<>("test", workers, backoff, pass);
        queue.start();
        return queue;
    }

    @AfterEach
    void close() {
        if (queue != null) {
            queue.close();
        }
    }

    @Test
    void neverRunsTwoPassesForOneKeyAtOnceAndMergesDuplicates() throws Exception {
        var inPass = new ConcurrentHashMap<String, AtomicInteger>();
        var overlaps = new AtomicInteger();
        var passes = new ConcurrentHashMap<String, AtomicInteger>();
        var release = new CountDownLatch(1);
        start(8, key -> {
            if (inPass.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() > 1) {
                overlaps.incrementAndGet();
            }
            try {
                release.await(30, TimeUnit.SECONDS);
                Thread.sleep(2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            passes.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
            inPass.get(key).decrementAndGet();
            return PassResult.done();
        });

        queue.enqueue("a");
        await().atMost(Duration.ofSeconds(30)).until(() -> inPass.containsKey("a"));
        // While "a" runs: many events for it collapse into exactly one more pass.
        for (int i = 0; i < 100; i++) {
            queue.enqueue("a");
            queue.enqueue("b");
        }
        release.countDown();

        await().atMost(Duration.ofSeconds(30)).until(() -> queue.pending() == 0);
        assertThat(overlaps.get()).isZero();
        assertThat(passes.get("a").get()).isEqualTo(2);
        // "b" may have started while its later events arrived: then exactly one more pass follows.
        assertThat(passes.get("b").get()).isBetween(1, 2);
    }

    @Test
    void failedPassesAreRetriedWithBackoffUntilTheySucceed() {
        var attempts = new CopyOnWriteArrayList<Long>();
        start(2, key -> {
            attempts.add(System.nanoTime());
            return attempts.size() < 4 ? PassResult.failed(new IllegalStateException("boom")) : PassResult.done();
        });

        queue.enqueue("x");

        await().atMost(Duration.ofSeconds(30)).until(() -> attempts.size() == 4 && queue.pending() == 0);
        var gaps = List.of(attempts.get(1) - attempts.get(0), attempts.get(2) - attempts.get(1),
                attempts.get(3) - attempts.get(2));
        assertThat(gaps.get(0)).isGreaterThanOrEqualTo(Duration.ofMillis(10).toNanos());
        assertThat(gaps.get(1)).isGreaterThanOrEqualTo(Duration.ofMillis(20).toNanos());
        assertThat(gaps.get(2)).isGreaterThanOrEqualTo(Duration.ofMillis(40).toNanos());
    }

    @Test
    void requeueAfterRunsTheKeyAgainLaterAndAnEventBringsItForward() {
        var passes = new AtomicInteger();
        start(1, key -> passes.incrementAndGet() == 1 ? PassResult.requeueAfter(Duration.ofHours(1)) : PassResult.done());

        queue.enqueue("k");
        await().atMost(Duration.ofSeconds(30)).until(() -> passes.get() == 1 && queue.pending() == 1);
        queue.enqueue("k");

        await().atMost(Duration.ofSeconds(30)).until(() -> passes.get() == 2 && queue.pending() == 0);
    }

    @Test
    void aThrowingPassCountsAsFailedAndDoesNotKillTheWorker() {
        var passes = new AtomicInteger();
        start(1, key -> {
            if (key.equals("bad") && passes.incrementAndGet() == 1) {
                throw new IllegalStateException("unexpected");
            }
            passes.incrementAndGet();
            return PassResult.done();
        });
        queue.enqueue("bad");
        queue.enqueue("good");
        await().atMost(Duration.ofSeconds(30)).until(() -> passes.get() >= 3 && queue.pending() == 0);
    }

    @Test
    void aPassThatThrowsAnErrorIsAFailureAndNeitherTheKeyNorTheWorkerIsLost() {
        var passes = new ConcurrentHashMap<String, AtomicInteger>();
        start(1, key -> {
            if (passes.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet() == 1 && key.equals("bad")) {
                throw new AssertionError("a bug in one pass");
            }
            return PassResult.done();
        });

        queue.enqueue("bad");
        await().atMost(Duration.ofSeconds(30)).until(() -> passes.containsKey("bad"));
        queue.enqueue("good");

        // The failed "bad" is retried after its backoff; the only worker is still there for "good".
        await().atMost(Duration.ofSeconds(30)).until(() -> queue.pending() == 0
                && passes.getOrDefault("bad", new AtomicInteger()).get() == 2
                && passes.getOrDefault("good", new AtomicInteger()).get() == 1);
    }

    @Test
    void anEventDoesNotCancelAFailuresBackoff() {
        var passes = new AtomicInteger();
        start(1, HOUR, key -> {
            passes.incrementAndGet();
            return PassResult.failed(new IllegalStateException("fails at once, every time"));
        });

        queue.enqueue("k");
        await().atMost(Duration.ofSeconds(30)).until(() -> passes.get() == 1 && queue.pending() == 1);
        for (int i = 0; i < 10; i++) {
            queue.enqueue("k");
            queue.enqueueAfter("k", Duration.ofMillis(1));
        }

        // The retry stays an hour away: no event brings a failing key forward.
        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
                .until(() -> passes.get() == 1 && queue.pending() == 1);
    }

    @Test
    void anEventDuringAFailingPassWaitsForTheBackoff() throws Exception {
        var passes = new AtomicInteger();
        var inPass = new CountDownLatch(1);
        var release = new CountDownLatch(1);
        start(1, HOUR, key -> {
            passes.incrementAndGet();
            inPass.countDown();
            try {
                release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return PassResult.failed(new IllegalStateException("fails"));
        });

        queue.enqueue("k");
        assertThat(inPass.await(30, TimeUnit.SECONDS)).isTrue();
        queue.enqueue("k"); // marks the running key dirty
        release.countDown();

        await().during(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
                .until(() -> passes.get() == 1 && queue.pending() == 1);
    }

    @Test
    void closeInterruptsARunningPass() {
        var interrupted = new CountDownLatch(1);
        var started = new CountDownLatch(1);
        start(1, key -> {
            started.countDown();
            try {
                Thread.sleep(Duration.ofMinutes(5));
            } catch (InterruptedException e) {
                interrupted.countDown();
            }
            return PassResult.done();
        });
        queue.enqueue("slow");
        await().atMost(Duration.ofSeconds(30)).until(() -> started.getCount() == 0);

        queue.close();

        assertThat(interrupted.getCount()).isZero();
    }
}
