package io.mvm.coordinator.http;

import io.mvm.coordinator.StaleVersionException;
import io.mvm.coordinator.http.relay.RelayUnavailableException;
import io.mvm.coordinator.vms.WaitTimeoutException;
import io.mvm.core.vms.VmSpecException;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/** The one place where an error becomes an HTTP status and an RFC 9457 problem body. */
final class Problems {
    static final String CONTENT_TYPE = "application/problem+json";
    static final String TYPE_BASE = "https://mvm.dev/problems/";

    private Problems() {}

    static int status(MvmException e) {
        if (e instanceof BodyTooLargeException) {
            return 413;
        }
        if (e instanceof StaleVersionException) {
            return 412;
        }
        if (e instanceof VmSpecException || e instanceof io.mvm.coordinator.UnprocessableException
                || e instanceof io.mvm.core.template.TemplateConfigException) {
            return 422;
        }
        if (e instanceof RateLimitedException) {
            return 429;
        }
        if (e instanceof WaitTimeoutException) {
            return 408;
        }
        return switch (e.category()) {
            case INVALID_ARGUMENT -> 400;
            case NOT_FOUND -> 404;
            case ALREADY_EXISTS, CONFLICT, FAILED_PRECONDITION -> 409;
            case QUOTA_EXCEEDED -> 422;
            case RESOURCE_EXHAUSTED -> 507;
            case UNAUTHENTICATED -> 401;
            case PERMISSION_DENIED -> 403;
            case UNAVAILABLE -> 503;
            case INTERNAL -> 500;
        };
    }

    static Map<String, Object> body(MvmException e, int status, String instance) {
        Map<String, Object> body = new LinkedHashMap<>();
        String slug = e instanceof BodyTooLargeException ? "body-too-large"
                : e instanceof StaleVersionException ? "stale-version"
                : e instanceof VmSpecException ? "invalid-spec"
                : e instanceof io.mvm.core.template.TemplateConfigException ? "invalid-template"
                : e instanceof io.mvm.coordinator.UnprocessableException ? "unprocessable"
                : e instanceof WaitTimeoutException ? "wait-timeout"
                : e instanceof RateLimitedException ? "rate-limited" : slug(e.category());
        body.put("type", TYPE_BASE + slug);
        body.put("title", title(status));
        body.put("status", status);
        boolean hideCause = e.category() == ErrorCategory.INTERNAL
                || (e.category() == ErrorCategory.UNAVAILABLE && !(e instanceof RelayUnavailableException) && !(e instanceof WaitTimeoutException)
                && !(e instanceof RateLimitedException));
        body.put("detail", hideCause ? publicDetail(e) : e.getMessage());
        body.put("instance", instance);
        body.put("category", e.category().name().toLowerCase(Locale.ROOT));
        body.put("retryable", e.retryable());
        e.details().forEach(body::putIfAbsent);
        return body;
    }

    /** Internal and storage failures keep their causes (and connection details) out of the response. */
    private static String publicDetail(MvmException e) {
        return e.category() == ErrorCategory.UNAVAILABLE
                ? "the coordinator's database is unavailable; retry later"
                : "internal error; see the coordinator log";
    }

    static Map<String, Object> plain(int status, String slug, String detail, String instance) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("type", TYPE_BASE + slug);
        body.put("title", title(status));
        body.put("status", status);
        body.put("detail", detail);
        body.put("instance", instance);
        return body;
    }

    private static String slug(ErrorCategory c) {
        return c.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    static String title(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 401 -> "Unauthorized";
            case 403 -> "Forbidden";
            case 404 -> "Not Found";
            case 405 -> "Method Not Allowed";
            case 408 -> "Request Timeout";
            case 409 -> "Conflict";
            case 412 -> "Precondition Failed";
            case 413 -> "Content Too Large";
            case 415 -> "Unsupported Media Type";
            case 422 -> "Unprocessable Content";
            case 429 -> "Too Many Requests";
            case 503 -> "Service Unavailable";
            case 507 -> "Insufficient Storage";
            default -> status >= 500 ? "Internal Server Error" : "Error";
        };
    }
}
