package io.mvm.runtime.guest;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * The host side of the conversation with a guest's agent (virtio-serial on QEMU, vsock on
 * Firecracker). No SSH anywhere: everything the host asks of a guest goes through here.
 *
 * <p>Implementations reconnect on their own when the VMM end of the socket goes away and comes
 * back (a restored snapshot, a restarted agent); every call takes or applies a deadline and fails
 * with a {@link GuestChannelException} (category UNAVAILABLE) when the guest does not answer.
 */
public interface GuestChannel extends AutoCloseable {

    /** Protocol version this host speaks; the guest reports its own in {@link Health}. */
    int PROTOCOL_VERSION = 1;

    Health health(Duration timeout);

    /** Runs a command and returns its output whole (each stream capped at {@link #EXEC_OUTPUT_CAP}). */
    ExecResult exec(ExecRequest request);

    /**
     * Runs a command and hands its output to {@code output} while it runs, chunk by chunk in the
     * order the guest wrote it; the result then carries no output of its own. Each stream is capped
     * at {@link #EXEC_OUTPUT_CAP} bytes whoever sends more (the result says {@code truncated}), so
     * a guest cannot make the host buffer more than that, however slow {@code output} is.
     * {@code output} runs on the calling thread; an exception from it ends the call.
     */
    default ExecResult exec(ExecRequest request, ExecOutput output) {
        ExecResult whole = exec(request);
        output.write(ExecStream.STDOUT, whole.stdout());
        output.write(ExecStream.STDERR, whole.stderr());
        return new ExecResult(whole.exitCode(), new byte[0], new byte[0], whole.timedOut(), whole.truncated());
    }

    /** The most of each output stream of one exec the host takes from a guest: 1 MiB. */
    int EXEC_OUTPUT_CAP = 1 << 20;

    /**
     * Tells the guest's workload to finish (cooperative drain) and waits until the guest says it
     * is done or the deadline passes.
     */
    DrainResult drain(Duration deadline);

    /** The supervised workload's status (the instance's {@code cmd}), for one-shot jobs. */
    WorkloadStatus workload(Duration timeout);

    /**
     * After a wake (snapshot restore) or restart the host has rebuilt the secrets drive file; the
     * guest unmounts /run/secrets, drops its cached blocks of the drive and mounts it again
     * read-only, so the rotated secret is what the workload reads from then on.
     */
    void reloadSecrets(Duration timeout);

    /**
     * Makes a restored guest its own machine (a clone) or its own moment (a wake): see
     * {@link GuestIdentity}. Returns the guest's generation counter after the bump.
     */
    long applyIdentity(GuestIdentity identity, Duration timeout);

    @Override
    void close();

    /**
     * @param workload the supervised workload's state: none, running, exited, drained (stopped by
     *                 a drain), or unknown from a guest agent that predates it
     */
    record Health(int protocolVersion, String hostname, double uptimeSeconds, String kernel, String workload) {
        public Health(int protocolVersion, String hostname, double uptimeSeconds, String kernel) {
            this(protocolVersion, hostname, uptimeSeconds, kernel, "unknown");
        }

        public boolean workloadExited() {
            return "exited".equals(workload);
        }
    }

    record ExecRequest(List<String> argv, Map<String, String> env, byte[] stdin, Duration timeout) {
        public ExecRequest {
            argv = List.copyOf(argv);
            env = Map.copyOf(env);
            stdin = stdin == null ? new byte[0] : stdin.clone();
            if (argv.isEmpty()) {
                throw new IllegalArgumentException("exec needs at least one argument");
            }
        }

        public static ExecRequest of(Duration timeout, String... argv) {
            return new ExecRequest(List.of(argv), Map.of(), new byte[0], timeout);
        }
    }

    /**
     * @param truncated the guest agent kept only the first 1 MiB of stdout or stderr (or both): a
     *                  guest cannot make an answer, or the host's memory, as large as it likes
     */
    record ExecResult(int exitCode, byte[] stdout, byte[] stderr, boolean timedOut, boolean truncated) {
        public ExecResult(int exitCode, byte[] stdout, byte[] stderr, boolean timedOut) {
            this(exitCode, stdout, stderr, timedOut, false);
        }

        public String stdoutText() {
            return new String(stdout, java.nio.charset.StandardCharsets.UTF_8);
        }

        public String stderrText() {
            return new String(stderr, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    enum ExecStream {
        STDOUT, STDERR;

        public String wireName() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** Receives a streamed exec's output. */
    @FunctionalInterface
    interface ExecOutput {
        void write(ExecStream stream, byte[] bytes);
    }

    record DrainResult(boolean completed, Duration took) {}

    /** {@code state} is one of none, running, exited. exitCode is set once exited. */
    record WorkloadStatus(String state, Integer exitCode) {}
}
