package io.mvm.coordinator;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.Map;

/** An If-Match version that is no longer current: the caller acted on a stale read. */
public final class StaleVersionException extends MvmException {
    public StaleVersionException(String resource, long expected, long actual) {
        super(ErrorCategory.FAILED_PRECONDITION, resource + " is at version " + actual + ", not " + expected
                + " (it changed since you read it)", Map.of("expected_version", expected, "current_version", actual), null);
    }

    /** Checks an optional If-Match version against the current one. */
    public static void check(String resource, ExpectedVersion expected, long actual) {
        if (expected instanceof ExpectedVersion.Exactly(long v) && v != actual) {
            throw new StaleVersionException(resource, v, actual);
        }
    }
}
