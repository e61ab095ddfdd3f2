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

    KeyedWorkQueue<String> start(int workers, Function<String, PassResult> pass) {
        queue = new KeyedWorkQueue<>("test", workers, FAST, pass);
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
