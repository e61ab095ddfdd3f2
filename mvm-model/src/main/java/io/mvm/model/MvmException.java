package io.mvm.model;

import java.util.Map;
import java.util.Objects;

/**
 * Root of mvm's exception family. Module-specific failures subclass it (QmpException,
 * ImageBuildException, ...) so callers can catch narrowly, while the edges (HTTP, CLI) only need
 * the {@link ErrorCategory}.
 *
 * <p>{@code details} holds machine-readable facts for problem bodies (for a quota: its name, the
 * limit and the requested amount). Never put secrets in a message or in details.
 */
public class MvmException extends RuntimeException {
    private final ErrorCategory category;
    private final boolean retryable;
    private final Map<String, Object> details;

    public MvmException(ErrorCategory category, String message) {
        this(category, message, Map.of(), null);
    }

    public MvmException(ErrorCategory category, String message, Throwable cause) {
        this(category, message, Map.of(), cause);
    }

    public MvmException(ErrorCategory category, String message, Map<String, Object> details, Throwable cause) {
        super(Objects.requireNonNull(message, "message"), cause);
        this.category = Objects.requireNonNull(category, "category");
        this.retryable = category.retryableByDefault();
        this.details = Map.copyOf(details);
    }

    public ErrorCategory category() {
        return category;
    }

    public boolean retryable() {
        return retryable;
    }

    public Map<String, Object> details() {
        return details;
    }

    public static MvmException invalid(String message) {
        return new MvmException(ErrorCategory.INVALID_ARGUMENT, message);
    }

    public static MvmException notFound(String message) {
        return new MvmException(ErrorCategory.NOT_FOUND, message);
    }

    public static MvmException conflict(String message) {
        return new MvmException(ErrorCategory.CONFLICT, message);
    }

    public static MvmException precondition(String message) {
        return new MvmException(ErrorCategory.FAILED_PRECONDITION, message);
    }

    public static MvmException unavailable(String message, Throwable cause) {
        return new MvmException(ErrorCategory.UNAVAILABLE, message, cause);
    }

    public static MvmException internal(String message, Throwable cause) {
        return new MvmException(ErrorCategory.INTERNAL, message, cause);
    }
}
