package io.mvm.core.reconcile;

import io.mvm.model.InstanceId;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.time.Duration;

/**
 * One idempotent action the agent applies through its runtime. Steps that bring an instance up
 * carry its full spec (a wake or a start refreshes the secrets drive from it).
 */
public sealed interface Step {
    InstanceId instance();

    TenantId tenant();

    Role role();

    /** Whether the step brings capacity up (role order) or down (reverse role order). */
    Direction direction();

    enum Direction { UP, DOWN, NONE }

    /** Create drives and boot a VM that does not exist on this node. */
    record CreateInstance(InstanceSpec spec) implements Step {
        public InstanceId instance() { return spec.id(); }
        public TenantId tenant() { return spec.tenant(); }
        public Role role() { return spec.role(); }
        public Direction direction() { return Direction.UP; }
    }

    /** Boot a stopped VM again from its kept drives. */
    record StartInstance(InstanceSpec spec) implements Step {
        public InstanceId instance() { return spec.id(); }
        public TenantId tenant() { return spec.tenant(); }
        public Role role() { return spec.role(); }
        public Direction direction() { return Direction.UP; }
    }

    /** Warm to running: continue the paused vCPUs. */
    record ResumeInstance(InstanceId instance, TenantId tenant, Role role) implements Step {
        public Direction direction() { return Direction.UP; }
    }

    /**
     * A warm VM standing by (owned by {@link TenantId#STANDBY}) becomes this instance of a tenant:
     * its tap joins the tenant's bridge, the guest gets its address, identity, secrets and workload,
     * and its vCPUs continue. The coordinator usually asks for it directly (a claim); this step is
     * how a claim the coordinator recorded but could not deliver still happens.
     */
    record ClaimInstance(InstanceSpec spec) implements Step {
        public InstanceId instance() { return spec.id(); }
        public TenantId tenant() { return spec.tenant(); }
        public Role role() { return spec.role(); }
        public Direction direction() { return Direction.UP; }
    }

    /** Sleeping to running: restore the snapshot, secrets refreshed from the spec. */
    record WakeInstance(InstanceSpec spec) implements Step {
        public InstanceId instance() { return spec.id(); }
        public TenantId tenant() { return spec.tenant(); }
        public Role role() { return spec.role(); }
        public Direction direction() { return Direction.UP; }
    }

    /** Tear down a crashed or unresponsive VMM and boot it again, drives kept. */
    record RestartInstance(InstanceSpec spec, String reason, int attempt) implements Step {
        public InstanceId instance() { return spec.id(); }
        public TenantId tenant() { return spec.tenant(); }
        public Role role() { return spec.role(); }
        public Direction direction() { return Direction.UP; }
    }

    /** Running to warm: pause the vCPUs, keep memory resident. */
    record PauseInstance(InstanceId instance, TenantId tenant, Role role) implements Step {
        public Direction direction() { return Direction.DOWN; }
    }

    /** Drain the guest cooperatively (up to the deadline), write a snapshot, end the VMM. */
    record SleepInstance(InstanceId instance, TenantId tenant, Role role, Duration drainDeadline) implements Step {
        public Direction direction() { return Direction.DOWN; }
    }

    /** End the VMM and drop any snapshot; drives kept. */
    record StopInstance(InstanceId instance, TenantId tenant, Role role) implements Step {
        public Direction direction() { return Direction.DOWN; }
    }

    /** Remove the VM and everything it has on this node: the user asked for it (desired destroyed). */
    record DestroyInstance(InstanceId instance, TenantId tenant, Role role, String reason) implements Step {
        public Direction direction() { return Direction.DOWN; }
    }

    /**
     * Remove a VM the desired state no longer names, but not its data: nobody asked for that, and
     * the instance may have moved to another node with this disk as its only copy. The VMM is
     * ended and the data disk and snapshot are set aside as an orphan for an operator.
     */
    record EvictInstance(InstanceId instance, TenantId tenant, Role role, String reason) implements Step {
        public Direction direction() { return Direction.DOWN; }
    }

    /** Stop trying: record the instance failed with the reason. */
    record MarkFailed(InstanceId instance, TenantId tenant, Role role, String reason) implements Step {
        public Direction direction() { return Direction.NONE; }
    }
}
