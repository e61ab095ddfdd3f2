package io.mvm.runtime.hostnet;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/** A host networking command failed or its output could not be understood. */
public class HostNetworkException extends MvmException {

    public HostNetworkException(ErrorCategory category, String message) {
        super(category, message);
    }

    public HostNetworkException(ErrorCategory category, String message, Throwable cause) {
        super(category, message, cause);
    }
}
