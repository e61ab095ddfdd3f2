package io.mvm.cli.e2e;

import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.TestExecutionExceptionHandler;

/**
 * Prints the child processes' logs (agents, {@code mvm up}) when a test method fails, so a failure
 * in CI says what the agent was doing. It runs as the exception leaves the test method, before
 * {@code @AfterEach} cleanup deletes the temp dir that holds the logs, and rethrows.
 */
final class PrintLogsOnFailure implements TestExecutionExceptionHandler {
    private final Supplier<String> logs;

    PrintLogsOnFailure(Supplier<String> logs) {
        this.logs = logs;
    }

    @Override
    public void handleTestExecutionException(ExtensionContext context, Throwable cause) throws Throwable {
        String text;
        try {
            text = logs.get();
        } catch (RuntimeException e) {
            text = "(cannot collect logs: " + e + ")";
        }
        System.err.println("===== " + context.getDisplayName() + " failed (" + cause + "); child logs:\n"
                + Optional.ofNullable(text).orElse("(none)") + "\n===== end of child logs");
        throw cause;
    }
}
