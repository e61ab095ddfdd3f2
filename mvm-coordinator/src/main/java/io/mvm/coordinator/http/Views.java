package io.mvm.coordinator.http;

import io.mvm.coordinator.tenant.TenantService;
import io.mvm.core.network.Ipv4;
import io.mvm.core.network.TenantSubnet;
import io.mvm.core.pool.TenantQuota;
import io.mvm.model.NodeId;
import io.mvm.store.audit.AuditEntry;
import io.mvm.store.instance.Instance;
import io.mvm.store.node.Node;
import io.mvm.store.pool.Pool;
import io.mvm.store.tenant.Tenant;
import java.time.Instant;
import java.util.List;
import java.util.Map;

/** Response bodies, kept apart from the stored records so either can change without the other. */
final class Views {
    private Views() {}

    record QuotaView(int maxVcpus, long maxMemoryMib, int maxInstances) {}

    record UsageView(long vcpus, long memoryMib, long instances) {}

    record TenantView(String id, String subnet, int netId, String gateway, QuotaView quota, UsageView usage,
                      long version, Instant createdAt, Instant updatedAt) {}

    record CountsView(int running, int warm, int sleeping, int stopped) {}

    record DrivesView(boolean rootfs, boolean data, boolean secrets, boolean config) {}

    record PoolView(String tenant, String name, String role, int rolePriority, String profile, String flake,
                    String template, int vcpus, long memoryMib, long dataDiskMib, DrivesView drives, CountsView desired,
                    long revision, long version, Instant createdAt, Instant updatedAt) {}

    record InstanceView(String id, String tenant, String pool, String desiredState, String state, String node,
                        String ip, long revision, String lastError, long version, Instant createdAt,
                        Instant updatedAt) {}

    record NodeView(String id, int vcpus, long memoryMib, long diskMib, Map<String, String> labels, String accelerator,
                    String status, Instant lastHeartbeat, long version) {}

    record AuditView(long seq, Instant at, String actor, String action, String resource, Long beforeVersion,
                     Long afterVersion, String outcome) {}

    record AuditPage(List<AuditView> entries, Long nextAfter) {}

    record ListOf<T>(List<T> items) {}

    record Health(String status) {}

    static TenantView tenant(Tenant t, List<Pool> pools) {
        TenantQuota q = t.quota();
        TenantQuota.Usage u = TenantService.usage(pools);
        return new TenantView(t.id().value(), t.subnet().toString(), t.netId(),
                Ipv4.format(new TenantSubnet(t.subnet()).gateway()),
                new QuotaView(q.maxVcpus(), q.maxMemoryMib(), q.maxInstances()),
                new UsageView(u.vcpus(), u.memoryMib(), u.instances()), t.version(), t.createdAt(), t.updatedAt());
    }

    static PoolView pool(Pool p) {
        var c = p.counts();
        return new PoolView(p.ref().tenant().value(), p.ref().name().value(), p.role().wireName(), p.role().priority(),
                p.profile(), p.flake(), p.template().orElse(null), p.vcpus(), p.memoryMib(), p.dataDiskMib(),
                new DrivesView(true, p.role().hasDataDrive(), p.role().requiresSecretsDrive(),
                        p.role().requiresConfigDrive()),
                new CountsView(c.running(), c.warm(), c.sleeping(), c.stopped()), p.revision(), p.version(),
                p.createdAt(), p.updatedAt());
    }

    static InstanceView instance(Instance i) {
        return new InstanceView(i.id().value(), i.pool().tenant().value(), i.pool().name().value(),
                i.desired().wireName(), i.state().wireName(), i.node().map(NodeId::value).orElse(null), i.ip(),
                i.revision(), i.lastError().orElse(null), i.version(), i.createdAt(), i.updatedAt());
    }

    static NodeView node(Node n) {
        return new NodeView(n.id().value(), n.vcpus(), n.memoryMib(), n.diskMib(), n.labels(), n.accelerator().wireName(),
                n.status(), n.lastHeartbeat().orElse(null), n.version());
    }

    static AuditView audit(AuditEntry e) {
        return new AuditView(e.seq(), e.at(), e.actor(), e.action(), e.resource(), e.beforeVersion().orElse(null),
                e.afterVersion().orElse(null), e.outcome());
    }
}
