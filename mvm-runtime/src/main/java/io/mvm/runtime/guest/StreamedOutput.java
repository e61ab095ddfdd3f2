package io.mvm.runtime.guest;

import io.mvm.runtime.guest.AgentProtocol.AgentAnswer;
import io.mvm.runtime.guest.GuestChannel.ExecOutput;
import io.mvm.runtime.guest.GuestChannel.ExecStream;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The output of one streamed exec between the connection's reader thread, which must never wait
 * (it also carries every other call's answers, health checks included), and the caller's thread,
 * which hands it on as fast as its consumer takes it. What a guest may make the host hold is
 * bounded by the cap per stream, not by how fast the consumer reads: bytes past the cap are
 * dropped and the result says truncated.
 */
final class StreamedOutput {
    private final long capPerStream;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<Chunk> queue = new ArrayDeque<>();
    private final long[] taken = new long[ExecStream.values().length];
    private boolean truncated;
    private boolean finished;

    private record Chunk(ExecStream stream, byte[] bytes) {}

    StreamedOutput(long capPerStream) {
        this.capPerStream = capPerStream;
    }

    /** An {@code output} line of the guest agent: {@code stream=stdout|stderr data=...}. */
    void offer(AgentAnswer line) {
        ExecStream stream = switch (line.text("stream").orElse("")) {
            case "stdout" -> ExecStream.STDOUT;
            case "stderr" -> ExecStream.STDERR;
            default -> null; // not an output line this host understands: dropped
        };
        if (stream != null) {
            offer(stream, line.bytes("data").orElse(new byte[0]));
        }
    }

    void offer(ExecStream stream, byte[] bytes) {
        lock.lock();
        try {
            long room = capPerStream - taken[stream.ordinal()];
            if (bytes.length > room) {
                truncated = true;
                bytes = Arrays.copyOf(bytes, (int) Math.max(0, room));
            }
            if (bytes.length > 0) {
                taken[stream.ordinal()] += bytes.length;
                queue.add(new Chunk(stream, bytes));
                changed.signalAll();
            }
        } finally {
            lock.unlock();
        }
    }

    /** The call ended (answered or failed): whoever waits for more stops waiting. */
    void finish() {
        lock.lock();
        try {
            finished = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    boolean truncated() {
        lock.lock();
        try {
            return truncated;
        } finally {
            lock.unlock();
        }
    }

    /** Hands everything received so far to {@code output}, outside the lock (it may block). */
    void deliverTo(ExecOutput output) {
        List<Chunk> ready;
        lock.lock();
        try {
            ready = new ArrayList<>(queue);
            queue.clear();
        } finally {
            lock.unlock();
        }
        for (Chunk chunk : ready) {
            output.write(chunk.stream(), chunk.bytes());
        }
    }

    /**
     * Waits until there is output to hand on or the call ended; false when the deadline passed
     * first.
     */
    boolean awaitMore(long deadlineNanos) throws InterruptedException {
        lock.lock();
        try {
            while (queue.isEmpty() && !finished) {
                long left = deadlineNanos - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.await(left, TimeUnit.NANOSECONDS);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }
}
