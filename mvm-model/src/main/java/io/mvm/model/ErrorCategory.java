package io.mvm.model;

/**
 * The small fixed set of failure kinds. Every error in mvm carries one; the HTTP edge and the
 * CLI map a category to a status code or exit code in exactly one place each.
 */
public enum ErrorCategory {
    INVALID_ARGUMENT(false),
    NOT_FOUND(false),
    ALREADY_EXISTS(false),
    CONFLICT(false),
    FAILED_PRECONDITION(false),
    QUOTA_EXCEEDED(false),
    RESOURCE_EXHAUSTED(false),
    UNAUTHENTICATED(false),
    PERMISSION_DENIED(false),
    UNAVAILABLE(true),
    INTERNAL(false);

    private final boolean retryableByDefault;

    ErrorCategory(boolean retryableByDefault) {
        this.retryableByDefault = retryableByDefault;
    }

    public boolean retryableByDefault() {
        return retryableByDefault;
    }
}
