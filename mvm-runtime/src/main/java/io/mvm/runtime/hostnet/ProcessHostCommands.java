package io.mvm.runtime.hostnet;

import io.mvm.model.ErrorCategory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/** {@link HostCommands} as child processes, optionally behind a prefix such as {@code ip netns exec NS}. */
final class ProcessHostCommands implements HostCommands {
    private static final long TIMEOUT_SECONDS = 120;
    private final List<String> prefix;

    ProcessHostCommands(List<String> prefix) {
        this.prefix = List.copyOf(prefix);
    }

    @Override
    public CommandResult run(List<String> argv, String stdin) {
        List<String> command = new ArrayList<>(prefix);
        command.addAll(argv);
        Process process;
        try {
            process = new ProcessBuilder(command).start();
        } catch (IOException e) {
            throw new HostNetworkException(ErrorCategory.FAILED_PRECONDITION,
                    "cannot run '" + argv.getFirst() + "': " + e.getMessage() + " (is iproute2/nftables installed?)", e);
        }
        try (ExecutorService readers = Executors.newVirtualThreadPerTaskExecutor()) {
            Future<String> out = readers.submit(() -> read(process.getInputStream()));
            Future<String> err = readers.submit(() -> read(process.getErrorStream()));
            try (OutputStream in = process.getOutputStream()) {
                in.write(stdin.getBytes(StandardCharsets.UTF_8));
            } catch (IOException e) {
                // The tool may exit before reading its input; its exit code and stderr say why.
            }
            if (!process.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new HostNetworkException(ErrorCategory.UNAVAILABLE,
                        "'" + String.join(" ", argv) + "' did not finish within " + TIMEOUT_SECONDS + " s");
            }
            return new CommandResult(List.copyOf(argv), process.exitValue(), out.get(10, TimeUnit.SECONDS),
                    err.get(10, TimeUnit.SECONDS));
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new HostNetworkException(ErrorCategory.UNAVAILABLE, "interrupted while running " + argv.getFirst(), e);
        } catch (ExecutionException | TimeoutException e) {
            throw new HostNetworkException(ErrorCategory.INTERNAL, "cannot read output of " + argv.getFirst(), e);
        }
    }

    private static String read(InputStream stream) {
        try (stream) {
            return new String(stream.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
