package io.mvm.cli;

import io.mvm.model.ErrorCategory;

/** The one place where an error category becomes a process exit code. */
public final class ExitCodes {
    public static final int OK = 0;
    public static final int INTERNAL = 1;
    public static final int USAGE = 2;

    private ExitCodes() {}

    public static int of(ErrorCategory category) {
        return switch (category) {
            case INVALID_ARGUMENT -> USAGE;
            case NOT_FOUND -> 3;
            case ALREADY_EXISTS, CONFLICT -> 4;
            case FAILED_PRECONDITION -> 5;
            case QUOTA_EXCEEDED, RESOURCE_EXHAUSTED -> 6;
            case UNAVAILABLE -> 7;
            case UNAUTHENTICATED, PERMISSION_DENIED -> 8;
            case INTERNAL -> INTERNAL;
        };
    }
}
