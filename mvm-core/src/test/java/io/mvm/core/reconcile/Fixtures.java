package io.mvm.core.reconcile;

import io.mvm.model.InstanceId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.List;
import java.util.Map;
import java.util.Optional;

final class Fixtures {
    private Fixtures() {}

    static InstanceSpec spec(String id, String tenant, Role role) {
        return new InstanceSpec(InstanceId.of(id), TenantId.of(tenant), PoolName.of(role.wireName()), role, 1, 256,
                512, new NetworkSpec("10.240.0.10", 24, "10.240.0.1", Optional.empty(), 1), List.of("sleep", "1d"),
                Map.of(), Map.of("api-key", "s3cr3t"), Map.of(), "r1");
    }

    static DesiredInstance want(String id, Role role, Target target) {
        return want(id, "acme", role, target);
    }

    static DesiredInstance want(String id, String tenant, Role role, Target target) {
        return new DesiredInstance(spec(id, tenant, role), target);
    }

    static ObservedInstance seen(String id, Role role, VmState state) {
        return seen(id, "acme", role, state);
    }

    static ObservedInstance seen(String id, String tenant, Role role, VmState state) {
        return new ObservedInstance(InstanceId.of(id), TenantId.of(tenant), role, state, GuestHealth.RESPONSIVE);
    }

    static DesiredSnapshot desired(DesiredInstance... instances) {
        return DesiredSnapshot.confirmed(7, List.of(instances));
    }

    static InstanceId id(String s) {
        return InstanceId.of(s);
    }
}
