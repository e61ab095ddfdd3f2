package io.mvm.runtime.qemu;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/**
 * A QMP failure: either QEMU answered with an error ({@link #errorClass()} and QEMU's description),
 * or the monitor could not be reached, timed out or closed (errorClass {@code null}).
 */
public class QmpException extends MvmException {
    private final String errorClass;

    public QmpException(String errorClass, String message) {
        super(errorClass == null ? ErrorCategory.UNAVAILABLE : ErrorCategory.FAILED_PRECONDITION, message);
        this.errorClass = errorClass;
    }

    public QmpException(String message, Throwable cause) {
        super(ErrorCategory.UNAVAILABLE, message, cause);
        this.errorClass = null;
    }

    /** QEMU's error class (e.g. {@code GenericError}, {@code CommandNotFound}), null for transport failures. */
    public String errorClass() {
        return errorClass;
    }
}
