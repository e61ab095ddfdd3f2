package io.mvm.core.template;

import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * A template file's {@code [snapshot]} table: what {@code mvm template build --snapshot} waits for
 * before it saves the golden snapshot. The guest agent's health is always awaited; a readiness
 * command (run in the guest through the agent, like {@code exec}) is awaited too when given — for
 * example until an application has loaded — and must exit 0 within {@code readinessTimeout}.
 *
 * @param readiness        argv of the readiness command, or empty
 * @param readinessTimeout how long the command may keep failing before the build gives up
 * @param drainTimeout     the guest agent's drain deadline before the snapshot
 * @param nic              whether the snapshot VM has a NIC: clones must have one exactly when it does
 *                         (a restored guest keeps its devices), so true for pools on a host network,
 *                         false for VMs without one (e.g. {@code mvm vm run --template})
 */
public record TemplateSnapshotSettings(Optional<List<String>> readiness, Duration readinessTimeout, Duration drainTimeout, boolean nic) {
    public static final int DEFAULT_READINESS_TIMEOUT_SECONDS = 120;
    public static final int DEFAULT_DRAIN_TIMEOUT_SECONDS = 10;
    public static final TemplateSnapshotSettings DEFAULTS = new TemplateSnapshotSettings(Optional.empty(),
            Duration.ofSeconds(DEFAULT_READINESS_TIMEOUT_SECONDS), Duration.ofSeconds(DEFAULT_DRAIN_TIMEOUT_SECONDS), false);

    public TemplateSnapshotSettings {
        readiness = readiness == null ? Optional.empty() : readiness.map(List::copyOf);
    }
}
