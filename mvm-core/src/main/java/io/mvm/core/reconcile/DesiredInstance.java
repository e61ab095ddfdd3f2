package io.mvm.core.reconcile;

import io.mvm.core.scale.Exposure;
import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.Objects;

/**
 * One instance the coordinator wants on this node, and the state it should be in; {@code exposure}
 * names its routes (ports the node proxies to it) and its idle policy, if any;
 * {@code restartWorkload} says whether its VM is restarted when the workload exits (a service).
 */
public record DesiredInstance(InstanceSpec spec, Target target, Exposure exposure, boolean restartWorkload) {
    public DesiredInstance {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(target, "target");
        Objects.requireNonNull(exposure, "exposure");
    }

    /** An instance whose workload is left alone when it exits. */
    public DesiredInstance(InstanceSpec spec, Target target, Exposure exposure) {
        this(spec, target, exposure, false);
    }

    /** An instance with no routes and no idle policy. */
    public DesiredInstance(InstanceSpec spec, Target target) {
        this(spec, target, Exposure.NONE);
    }

    public InstanceId id() {
        return spec.id();
    }

    public TenantId tenant() {
        return spec.tenant();
    }

    public Role role() {
        return spec.role();
    }

    public DesiredInstance withTarget(Target newTarget) {
        return new DesiredInstance(spec, newTarget, exposure, restartWorkload);
    }
}
