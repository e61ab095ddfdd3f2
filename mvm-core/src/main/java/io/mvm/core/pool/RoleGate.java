package io.mvm.core.pool;

import io.mvm.core.lifecycle.DesiredState;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Role order across the whole fleet: a tenant's instances of a later role are not created until
 * every instance of its earlier roles that should run does run, wherever it was placed (agents
 * order the roles only among the instances of their own node). Only creation is held back: an
 * instance that exists on a node (anything but {@code pending}) is never withheld, since an
 * agent destroys what its desired list leaves out.
 */
public final class RoleGate {
    private RoleGate() {}

    /** What the gate needs to know of one instance. */
    public record Member(InstanceId id, TenantId tenant, Role role, DesiredState desired, InstanceState observed) {}

    /** The instances whose creation waits for an earlier role of their tenant. */
    public static Set<InstanceId> heldBack(Collection<Member> members) {
        Map<TenantId, Integer> firstNotYetRunning = new HashMap<>();
        for (Member m : members) {
            if (m.desired() == DesiredState.RUNNING && m.observed() != InstanceState.RUNNING) {
                firstNotYetRunning.merge(m.tenant(), m.role().priority(), Math::min);
            }
        }
        return members.stream()
                .filter(m -> m.observed() == InstanceState.PENDING)
                .filter(m -> {
                    Integer blocking = firstNotYetRunning.get(m.tenant());
                    return blocking != null && m.role().priority() > blocking;
                })
                .map(Member::id)
                .collect(Collectors.toUnmodifiableSet());
    }
}
