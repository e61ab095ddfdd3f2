package io.mvm.coordinator;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;

/**
 * A well-formed request that names something unusable (a template that does not exist or has no
 * revision, an upload whose bytes are not its digest): HTTP 422, exit code of bad input.
 */
public class UnprocessableException extends MvmException {
    public UnprocessableException(String message) {
        super(ErrorCategory.INVALID_ARGUMENT, message);
    }
}
