package io.mvm.coordinator.leader;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/** A leader's write refused because its lease epoch is no longer the current one. */
public final class FencedOutException extends MvmException {
    public FencedOutException(long epoch) {
        super(ErrorCategory.CONFLICT, "this coordinator's leadership (lease epoch " + epoch
                + ") has ended; its write was rolled back");
    }
}
