package io.mvm.agent.local;

import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.template.TemplateId;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.template.TemplateStart;
import io.mvm.runtime.template.TemplateStore;
import io.mvm.runtime.vm.LocalVms;
import java.nio.file.Path;
import java.time.InstantSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the agent brings a new instance's VM into being: an instance of a template whose current
 * revision on this node has a golden snapshot that fits it is started as a clone of that snapshot
 * (its own hostname, machine-id, RNG, clock, secrets, config and, with a NIC, MAC and IP through the
 * guest agent's clone-identity); anything else — no template, no snapshot, other parameters, a
 * damaged snapshot, a NIC the snapshot has no slot for — cold-boots, and the log says why.
 * Kept apart from {@link LocalInstanceRuntime} so the choice stays in one small place.
 */
final class TemplateInstanceBoot {
    private static final Logger log = LoggerFactory.getLogger(TemplateInstanceBoot.class);

    private final LocalVms vms;
    private final TemplateStore store;

    TemplateInstanceBoot(LocalVms vms, Path dataDir) {
        this.vms = vms;
        this.store = new TemplateStore(dataDir, InstantSource.system());
    }

    /** Creates and starts the VM {@code vmSpec} of {@code spec}; returns once its guest agent answers. */
    void create(InstanceSpec spec, VmSpec vmSpec) {
        if (spec.template().isEmpty()) {
            vms.run(vmSpec);
            return;
        }
        var started = TemplateStart.start(vms, store, new TemplateId(spec.template().get()), vmSpec, TemplateStart.Mode.AUTO,
                message -> log.info("instance {}: {}", spec.id(), message));
        started.cloned().ifPresent(c -> log.info("instance {} cloned from template {}'s golden snapshot in {} ms {}", spec.id(),
                spec.template().get(), c.totalMillis(), c.phaseMillis()));
    }
}
