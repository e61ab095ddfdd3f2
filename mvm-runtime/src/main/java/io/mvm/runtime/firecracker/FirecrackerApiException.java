package io.mvm.runtime.firecracker;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/**
 * A Firecracker API failure: either Firecracker answered with an error status and its
 * {@code fault_message} ({@link #status()} &gt; 0), or the API socket could not be reached, timed
 * out or answered garbage ({@link #status()} 0, category UNAVAILABLE).
 */
public class FirecrackerApiException extends MvmException {
    private final int status;
    private final String faultMessage;

    public FirecrackerApiException(String request, int status, String faultMessage) {
        super(status >= 500 ? ErrorCategory.INTERNAL : ErrorCategory.FAILED_PRECONDITION,
                "Firecracker refused " + request + " (HTTP " + status + "): " + faultMessage);
        this.status = status;
        this.faultMessage = faultMessage;
    }

    public FirecrackerApiException(String message, Throwable cause) {
        super(ErrorCategory.UNAVAILABLE, message, cause);
        this.status = 0;
        this.faultMessage = null;
    }

    /** The HTTP status Firecracker answered with; 0 for transport failures. */
    public int status() {
        return status;
    }

    /** Firecracker's {@code fault_message}, or null for transport failures. */
    public String faultMessage() {
        return faultMessage;
    }
}
