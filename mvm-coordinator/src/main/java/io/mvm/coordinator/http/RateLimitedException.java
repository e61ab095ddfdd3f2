package io.mvm.coordinator.http;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.Map;

/** Too many requests from one token or address, or too many in flight (HTTP 429 with Retry-After). */
final class RateLimitedException extends MvmException {
    private final long retryAfterSeconds;

    RateLimitedException(String message, long retryAfterSeconds) {
        super(ErrorCategory.UNAVAILABLE, message, Map.of("retry_after_secs", retryAfterSeconds), null);
        this.retryAfterSeconds = retryAfterSeconds;
    }

    long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
