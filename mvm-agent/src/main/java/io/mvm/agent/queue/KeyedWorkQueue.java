package io.mvm.agent.queue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A level-triggered work queue keyed by resource. Events only enqueue a key; a key that is already
 * waiting is not added twice; a key whose pass is running is marked dirty and runs once more after
 * it. At most one pass per key runs at a time, on virtual threads. A pass ends as
 * {@link PassResult}: done, requeue-after, or failed (retried with per-key exponential backoff).
 *
 * <p>A failure's backoff is kept whatever else happens to the key: an event (a resync, a peer's
 * change) only marks it, and the pass runs when the backoff ends. Otherwise a key that fails at
 * once on every pass would be retried at the rate of unrelated events instead of backing off.
 * A pass that throws anything, an {@link Error} included, counts as failed: the worker survives
 * and the key never stays marked running.
 */
public final class KeyedWorkQueue<K> implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(KeyedWorkQueue.class);

    private final String name;
    private final Function<K, PassResult> pass;
    private final ExponentialBackoff failureBackoff;
    private final int workers;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition ready = lock.newCondition();
    private final LinkedHashSet<K> waiting = new LinkedHashSet<>();
    private final Set<K> running = new HashSet<>();
    private final Set<K> dirty = new HashSet<>();
    private final Map<K, Delayed> delayed = new HashMap<>();
    private final Map<K, Integer> failures = new HashMap<>();
    private final List<Thread> threads = new ArrayList<>();
    private final ScheduledExecutorService timer;
    private boolean closed;

    /** @param backoff whether this is a failure's retry, which events must not bring forward */
    private record Delayed(long dueNanos, ScheduledFuture<?> future, boolean backoff) {}

    public KeyedWorkQueue(String name, int workers, ExponentialBackoff failureBackoff, Function<K, PassResult> pass) {
        if (workers < 1) {
            throw new IllegalArgumentException("a work queue needs at least one worker");
        }
        this.name = Objects.requireNonNull(name, "name");
        this.workers = workers;
        this.failureBackoff = Objects.requireNonNull(failureBackoff, "failureBackoff");
        this.pass = Objects.requireNonNull(pass, "pass");
        this.timer = Executors.newSingleThreadScheduledExecutor(Thread.ofVirtual().name(name + "-timer").factory());
    }

    public void start() {
        lock.lock();
        try {
            for (int i = 0; i < workers; i++) {
                threads.add(Thread.ofVirtual().name(name + "-worker-" + i).start(this::work));
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Mark {@code key} for a pass as soon as a worker is free, or when its failure backoff ends if
     * its last pass failed.
     */
    public void enqueue(K key) {
        Objects.requireNonNull(key, "key");
        lock.lock();
        try {
            if (closed) {
                return;
            }
            var d = delayed.get(key);
            if (d != null && d.backoff()) {
                return; // the retry already scheduled reads the latest state anyway
            }
            if (d != null) {
                delayed.remove(key);
                d.future().cancel(false);
            }
            if (running.contains(key)) {
                dirty.add(key);
            } else if (waiting.add(key)) {
                ready.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    public void enqueueAll(Collection<K> keys) {
        keys.forEach(this::enqueue);
    }

    /**
     * Mark {@code key} for a pass after {@code delay}; an earlier pending time wins, except over a
     * failure's backoff, which is kept.
     */
    public void enqueueAfter(K key, Duration delay) {
        if (delay.isZero() || delay.isNegative()) {
            enqueue(key);
            return;
        }
        schedule(key, delay, false);
    }

    private void schedule(K key, Duration delay, boolean backoff) {
        lock.lock();
        try {
            if (closed || waiting.contains(key)) {
                return;
            }
            long due = System.nanoTime() + delay.toNanos();
            var existing = delayed.get(key);
            if (existing != null && !backoff && (existing.backoff() || existing.dueNanos() - due <= 0)) {
                return;
            }
            if (existing != null) {
                existing.future().cancel(false);
            }
            var future = timer.schedule(() -> fire(key, due), delay.toNanos(), TimeUnit.NANOSECONDS);
            delayed.put(key, new Delayed(due, future, backoff));
        } finally {
            lock.unlock();
        }
    }

    private void fire(K key, long due) {
        lock.lock();
        try {
            var d = delayed.get(key);
            if (closed || d == null || d.dueNanos() != due) {
                return;
            }
            delayed.remove(key);
            if (running.contains(key)) {
                dirty.add(key);
            } else if (waiting.add(key)) {
                ready.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Keys waiting, running or scheduled; for tests and diagnostics. */
    public int pending() {
        lock.lock();
        try {
            return waiting.size() + running.size() + delayed.size();
        } finally {
            lock.unlock();
        }
    }

    private void work() {
        while (true) {
            K key;
            lock.lock();
            try {
                while (!closed && waiting.isEmpty()) {
                    ready.await();
                }
                if (closed) {
                    return;
                }
                var it = waiting.iterator();
                key = it.next();
                it.remove();
                running.add(key);
            } catch (InterruptedException e) {
                return;
            } finally {
                lock.unlock();
            }
            PassResult result;
            try {
                result = pass.apply(key);
            } catch (Throwable e) {
                // An Error too (an assertion, a stack overflow in one pass): if it ended the worker,
                // the key would stay "running" for ever and no event could bring it back.
                if (e instanceof Error) {
                    log.error("{}: pass for {} threw", name, key, e);
                }
                result = PassResult.failed(e);
            }
            if (Thread.currentThread().isInterrupted()) {
                return;
            }
            finish(key, result);
        }
    }

    private void finish(K key, PassResult result) {
        Duration retryIn = null;
        boolean backoff = false;
        lock.lock();
        try {
            running.remove(key);
            boolean again = dirty.remove(key);
            switch (result) {
                case PassResult.Done d -> failures.remove(key);
                case PassResult.RequeueAfter r -> {
                    failures.remove(key);
                    retryIn = r.delay();
                }
                case PassResult.Failed f -> {
                    int n = failures.merge(key, 1, Integer::sum);
                    retryIn = failureBackoff.delay(n);
                    backoff = true;
                    log.warn("{}: pass for {} failed (attempt {}), retrying in {}: {}", name, key, n, retryIn,
                            f.cause().getMessage());
                }
            }
            // An event during a failed pass waits for the backoff: the retry reads the latest state.
            if (again && !backoff && !closed && waiting.add(key)) {
                ready.signal();
                retryIn = null;
            }
        } finally {
            lock.unlock();
        }
        if (retryIn != null) {
            if (backoff) {
                schedule(key, retryIn, true);
            } else {
                enqueueAfter(key, retryIn);
            }
        }
    }

    /** Stops the workers; a pass in progress is interrupted. Does not wait for anything else. */
    @Override
    public void close() {
        List<Thread> toStop;
        lock.lock();
        try {
            closed = true;
            delayed.values().forEach(d -> d.future().cancel(false));
            delayed.clear();
            waiting.clear();
            ready.signalAll();
            toStop = List.copyOf(threads);
        } finally {
            lock.unlock();
        }
        timer.shutdownNow();
        toStop.forEach(Thread::interrupt);
        for (var t : toStop) {
            try {
                t.join(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }
}
