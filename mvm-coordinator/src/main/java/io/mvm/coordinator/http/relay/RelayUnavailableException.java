package io.mvm.coordinator.http.relay;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/** The instance's node (or its agent, or the guest agent behind it) cannot be reached right now. */
public final class RelayUnavailableException extends MvmException {
    public RelayUnavailableException(String message, Throwable cause) {
        super(ErrorCategory.UNAVAILABLE, message, java.util.Map.of(), cause);
    }
}
