package io.mvm.runtime.hostnet;

import io.mvm.model.ErrorCategory;
import java.util.List;

/**
 * Runs the host's networking tools (ip, nft, sysctl). Everything the host network code does to the
 * kernel goes through here, so it can run against the host itself or inside a network namespace
 * that stands in for a host in tests.
 */
public interface HostCommands {

    /** Runs {@code argv} with {@code stdin} (may be empty) and returns its result, whatever the exit code. */
    CommandResult run(List<String> argv, String stdin);

    record CommandResult(List<String> argv, int exitCode, String stdout, String stderr) {
        public boolean ok() {
            return exitCode == 0;
        }
    }

    /** Runs {@code argv} and fails with the tool's own message unless it exits 0. */
    default String runOrFail(List<String> argv, String stdin) {
        CommandResult r = run(argv, stdin);
        if (!r.ok()) {
            throw new HostNetworkException(ErrorCategory.INTERNAL,
                    "'" + String.join(" ", argv) + "' failed (exit " + r.exitCode() + "): " + r.stderr().strip());
        }
        return r.stdout();
    }

    default String runOrFail(String... argv) {
        return runOrFail(List.of(argv), "");
    }

    static HostCommands onThisHost() {
        return new ProcessHostCommands(List.of());
    }

    /** Commands run inside an existing network namespace, as if it were the host. */
    static HostCommands inNamespace(String namespace) {
        return new ProcessHostCommands(List.of("ip", "netns", "exec", namespace));
    }
}
