package io.mvm.agent.proxy;

import io.mvm.model.InstanceId;
import java.util.concurrent.CompletableFuture;

/** What the proxy asks of the agent's idle control: is an instance idled, and wake it. */
public interface Waker {
    /** True while the idle policy keeps the instance warm or sleeping (or on its way there). */
    boolean idled(InstanceId id);

    /**
     * Wakes an idled instance, or joins the wake already under way: every caller during one wake
     * gets the same future, completed once the instance runs again, or exceptionally when the
     * wake failed. An instance that is not idled gets a completed future.
     */
    CompletableFuture<Void> wake(InstanceId id, String why);

    /** Records that a held connection was given up (the wake failed or took too long). */
    void heldConnectionClosed(InstanceId id, String why);

    Waker NONE = new Waker() {
        @Override
        public boolean idled(InstanceId id) {
            return false;
        }

        @Override
        public CompletableFuture<Void> wake(InstanceId id, String why) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public void heldConnectionClosed(InstanceId id, String why) {}
    };
}
