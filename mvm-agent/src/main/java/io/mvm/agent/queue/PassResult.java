package io.mvm.agent.queue;

import java.time.Duration;
import java.util.Objects;

/** How one pass over a key ended. */
public sealed interface PassResult {
    /** Nothing more to do until something changes. */
    record Done() implements PassResult {}

    /** Look again after {@code delay} (zero: as soon as possible). */
    record RequeueAfter(Duration delay) implements PassResult {
        public RequeueAfter {
            Objects.requireNonNull(delay, "delay");
            if (delay.isNegative()) {
                delay = Duration.ZERO;
            }
        }
    }

    /** The pass failed; the queue retries with exponential backoff per key. */
    record Failed(Throwable cause) implements PassResult {
        public Failed {
            Objects.requireNonNull(cause, "cause");
        }
    }

    static PassResult done() {
        return new Done();
    }

    static PassResult requeueAfter(Duration delay) {
        return new RequeueAfter(delay);
    }

    static PassResult failed(Throwable cause) {
        return new Failed(cause);
    }
}
