package io.mvm.runtime.guest;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/** The guest agent did not answer, answered garbage, or refused. */
public class GuestChannelException extends MvmException {
    public GuestChannelException(String message) {
        super(ErrorCategory.UNAVAILABLE, message);
    }

    public GuestChannelException(String message, Throwable cause) {
        super(ErrorCategory.UNAVAILABLE, message, cause);
    }
}
