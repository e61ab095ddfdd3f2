package io.mvm.core.reconcile;

import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.Objects;

/** One instance the coordinator wants on this node, and the state it should be in. */
public record DesiredInstance(InstanceSpec spec, Target target) {
    public DesiredInstance {
        Objects.requireNonNull(spec, "spec");
        Objects.requireNonNull(target, "target");
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
        return new DesiredInstance(spec, newTarget);
    }
}
