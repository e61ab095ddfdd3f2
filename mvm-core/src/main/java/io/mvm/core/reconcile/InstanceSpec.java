package io.mvm.core.reconcile;

import io.mvm.model.InstanceId;
import io.mvm.model.MvmException;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything a node needs to boot (or wake) one instance, as the coordinator states it.
 * {@code secrets} are written to the secrets drive on every start and wake; they never appear in
 * {@link #toString()}. {@code template} names the template whose current revision the instance
 * boots (none: the default image); {@code pin}, when the coordinator gives one, is the exact
 * revision (and its files by digest) to boot instead.
 */
public record InstanceSpec(InstanceId id, TenantId tenant, PoolName pool, Role role, int vcpus, long memoryMib,
                           long dataDiskMib, NetworkSpec network, List<String> cmd, Map<String, String> env,
                           Map<String, String> secrets, Map<String, String> configFiles, String revision,
                           java.util.Optional<String> template, java.util.Optional<TemplatePin> pin) {

    /** Without a pinned revision: the template's current revision on the node (or the default image). */
    public InstanceSpec(InstanceId id, TenantId tenant, PoolName pool, Role role, int vcpus, long memoryMib,
                        long dataDiskMib, NetworkSpec network, List<String> cmd, Map<String, String> env,
                        Map<String, String> secrets, Map<String, String> configFiles, String revision,
                        java.util.Optional<String> template) {
        this(id, tenant, pool, role, vcpus, memoryMib, dataDiskMib, network, cmd, env, secrets, configFiles, revision,
                template, java.util.Optional.empty());
    }

    /** An instance of the default image. */
    public InstanceSpec(InstanceId id, TenantId tenant, PoolName pool, Role role, int vcpus, long memoryMib,
                        long dataDiskMib, NetworkSpec network, List<String> cmd, Map<String, String> env,
                        Map<String, String> secrets, Map<String, String> configFiles, String revision) {
        this(id, tenant, pool, role, vcpus, memoryMib, dataDiskMib, network, cmd, env, secrets, configFiles, revision,
                java.util.Optional.empty());
    }

    public InstanceSpec {
        Objects.requireNonNull(template, "template");
        pin = pin == null ? java.util.Optional.empty() : pin;
        Objects.requireNonNull(id, "id");
        Objects.requireNonNull(tenant, "tenant");
        Objects.requireNonNull(pool, "pool");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(network, "network");
        Objects.requireNonNull(revision, "revision");
        if (vcpus < 1) {
            throw MvmException.invalid("instance " + id + " needs at least 1 vCPU, got " + vcpus);
        }
        if (memoryMib < 1 || dataDiskMib < 0) {
            throw MvmException.invalid("instance " + id + " has invalid sizes: memory " + memoryMib
                    + " MiB, data disk " + dataDiskMib + " MiB");
        }
        cmd = List.copyOf(cmd);
        env = Map.copyOf(env);
        secrets = Map.copyOf(secrets);
        configFiles = Map.copyOf(configFiles);
    }

    @Override
    public String toString() {
        return "InstanceSpec[" + id + " " + tenant + "/" + pool + " role=" + role + " " + vcpus + " vCPUs "
                + memoryMib + " MiB data=" + dataDiskMib + " MiB ip=" + network.ip() + " revision=" + revision
                + " secrets=" + secrets.keySet() + "]";
    }
}
