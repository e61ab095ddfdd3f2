package io.mvm.runtime.image;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Runs one host program (apt-get, dpkg-deb, mkfs.ext4, xz...) to completion with a deadline, and
 * turns a failure into an {@link ImageBuildException} that names the program and quotes the end
 * of its error output.
 */
public final class HostProgram {
    private final List<String> argv;
    private Path workDir;
    private Map<String, String> extraEnv = Map.of();
    private Duration timeout = Duration.ofMinutes(10);

    private HostProgram(List<String> argv) {
        this.argv = List.copyOf(argv);
    }

    public static HostProgram of(String... argv) {
        return new HostProgram(List.of(argv));
    }

    public static HostProgram of(List<String> argv) {
        return new HostProgram(argv);
    }

    public HostProgram in(Path directory) {
        this.workDir = directory;
        return this;
    }

    public HostProgram env(Map<String, String> env) {
        this.extraEnv = Map.copyOf(env);
        return this;
    }

    public HostProgram timeout(Duration limit) {
        this.timeout = limit;
        return this;
    }

    /** The program's output, decoded as UTF-8. */
    public String run() {
        return new String(runForBytes(), StandardCharsets.UTF_8);
    }

    /** The program's raw output (used to decompress modules through xz/zstd). */
    public byte[] runForBytes() {
        ProcessBuilder builder = new ProcessBuilder(argv);
        if (workDir != null) {
            builder.directory(workDir.toFile());
        }
        builder.environment().putAll(extraEnv);
        builder.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new ImageBuildException("cannot run " + argv.getFirst() + ": " + e.getMessage(), e);
        }
        CompletableFuture<byte[]> stdout = drain(process.getInputStream());
        CompletableFuture<byte[]> stderr = drain(process.getErrorStream());
        try {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly().waitFor();
                throw new ImageBuildException(describe() + " did not finish within " + timeout.toSeconds() + " s");
            }
            byte[] out = stdout.get();
            String err = new String(stderr.get(), StandardCharsets.UTF_8).strip();
            if (process.exitValue() != 0) {
                throw new ImageBuildException(describe() + " failed (exit " + process.exitValue() + ")"
                        + (err.isEmpty() ? "" : ": " + tail(err)));
            }
            return out;
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new ImageBuildException(describe() + " was interrupted", e);
        } catch (ExecutionException e) {
            throw new ImageBuildException("cannot read the output of " + describe(), e.getCause());
        }
    }

    private String describe() {
        return String.join(" ", argv.size() > 4 ? argv.subList(0, 4) : argv) + (argv.size() > 4 ? " ..." : "");
    }

    private static String tail(String text) {
        String[] lines = text.split("\n");
        int from = Math.max(0, lines.length - 3);
        return String.join(" | ", java.util.Arrays.copyOfRange(lines, from, lines.length));
    }

    private static CompletableFuture<byte[]> drain(InputStream stream) {
        CompletableFuture<byte[]> result = new CompletableFuture<>();
        Thread.ofVirtual().start(() -> {
            try (stream) {
                result.complete(stream.readAllBytes());
            } catch (IOException e) {
                result.completeExceptionally(new UncheckedIOException(e));
            }
        });
        return result;
    }
}
