package io.mvm.coordinator.vms;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.Map;

/** A wait for a job's VM ran out before the VM got there (HTTP 408, as Fly's machine wait answers). */
public final class WaitTimeoutException extends MvmException {
    public WaitTimeoutException(String message, String statusNow) {
        super(ErrorCategory.UNAVAILABLE, message, Map.of("status_now", statusNow), null);
    }
}
