package io.mvm.runtime.backend;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.time.Duration;

/** The wait between two polls of a VMM or its guest (a status not final yet, an agent not answering yet). */
public final class Polling {
    private Polling() {}

    /** Sleeps {@code interval}; an interrupt is kept on the thread and ends the operation as UNAVAILABLE. */
    public static void pause(Duration interval) {
        try {
            Thread.sleep(interval);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted", e);
        }
    }
}
