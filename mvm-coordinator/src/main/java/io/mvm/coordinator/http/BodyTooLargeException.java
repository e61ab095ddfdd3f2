package io.mvm.coordinator.http;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.Map;

/** A request body over the API's size limit; answered with 413. */
final class BodyTooLargeException extends MvmException {
    BodyTooLargeException(long limit) {
        super(ErrorCategory.INVALID_ARGUMENT, "request body is larger than the limit of " + limit + " bytes",
                Map.of("limit_bytes", limit), null);
    }
}
