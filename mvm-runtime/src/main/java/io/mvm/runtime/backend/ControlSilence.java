package io.mvm.runtime.backend;

import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a status read makes of a live VMM whose control channel (QEMU's QMP monitor, Firecracker's
 * API socket) did not answer: a host under load, a VMM stopped for a moment, a channel held by
 * another client. That is not a failure — a FAILED VM gets restarted, and a restart kills the
 * VMM — so it is {@link InstanceState#UNKNOWN} until the channel has stayed silent for the
 * deadline, counted on the injected clock from the first unanswered read; then FAILED.
 *
 * <p>Kept per VM directory and in memory on purpose: a new runtime counts afresh, which errs on
 * the side of leaving a live VMM alone. One instance per backend, not global.
 */
public final class ControlSilence {
    private static final Logger LOG = LoggerFactory.getLogger(ControlSilence.class);

    private final String channel;
    private final Duration deadline;
    private final InstantSource clock;
    private final Map<Path, Instant> silentSince = new ConcurrentHashMap<>();

    /** @param channel what to call the control channel in reasons, e.g. "QMP monitor" */
    public ControlSilence(String channel, Duration deadline, InstantSource clock) {
        this.channel = Objects.requireNonNull(channel, "channel");
        this.deadline = Objects.requireNonNull(deadline, "deadline");
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** The channel answered, or the VMM is gone: start counting afresh next time. */
    public void reset(Path vmDir) {
        silentSince.remove(vmDir);
    }

    /** The handle as observed after {@code cause}: UNKNOWN before the deadline, FAILED from it on. */
    public VmHandle unanswered(VmHandle handle, MvmException cause) {
        Instant now = clock.instant();
        Instant since = silentSince.computeIfAbsent(handle.vmDir(), dir -> now);
        Duration silent = Duration.between(since, now);
        if (silent.compareTo(deadline) >= 0) {
            silentSince.remove(handle.vmDir());
            return handle.withState(InstanceState.FAILED, "the VMM (pid " + handle.pid() + ") is alive but its "
                    + channel + " has not answered for " + silent.toSeconds() + " s (deadline " + deadline.toSeconds()
                    + " s): " + cause.getMessage(), now);
        }
        LOG.warn("VM {}: {} did not answer ({}); state unknown, checking again (silent for {} ms of {} s)",
                handle.name(), channel, cause.getMessage(), silent.toMillis(), deadline.toSeconds());
        return handle.withState(InstanceState.UNKNOWN, "its " + channel + " did not answer (silent for "
                + silent.toSeconds() + " s; failed after " + deadline.toSeconds() + " s): " + cause.getMessage(), now);
    }
}
