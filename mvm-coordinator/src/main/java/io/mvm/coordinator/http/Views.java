package io.mvm.coordinator.http;

import io.mvm.coordinator.node.NodeService;
import io.mvm.coordinator.tenant.TenantService;
import io.mvm.core.network.Ipv4;
import io.mvm.core.network.TenantSubnet;
import io.mvm.core.placement.Capacity;
import io.mvm.core.pool.TenantQuota;
import io.mvm.model.NodeId;
import io.mvm.store.audit.AuditEntry;
import io.mvm.store.instance.Instance;
import io.mvm.store.instance.InstanceEvent;
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

    /** {@code secretNames}: which secrets are set; their values are write-only. */
    record PoolView(String tenant, String name, String role, int rolePriority, String profile, String flake,
                    String template, int vcpus, long memoryMib, long dataDiskMib, DrivesView drives, CountsView desired,
                    List<String> cmd, Map<String, String> env, List<String> secretNames,
                    Map<String, String> configFiles, boolean restartWorkload, String onNodeLost, long revision,
                    long version, Instant createdAt, Instant updatedAt, List<PortView> ports, IdlePolicyView idle,
                    AvailableView available) {}

    /** The idle policy as users write it. */
    record IdlePolicyView(String warmAfter, String sleepAfter, String minRuntime, double cpuThreshold) {}

    /** Instances wanted running: {@code running} run, {@code idled} are warm or sleeping by the idle policy. */
    record AvailableView(int running, int idled) {}

    record InstanceView(String id, String tenant, String pool, String desiredState, String state, String node,
                        String ip, long revision, String lastError, String pendingReason, Long pid,
                        String accelerator, long version, Instant createdAt, Instant updatedAt, String template,
                        String templateRevision, String bootedRevision) {}

    record CapacityView(int vcpus, long memoryMib, long diskMib) {}

    /** Never carries the agent token. */
    record NodeView(String id, String status, CapacityView capacity, CapacityView allocated, int instances,
                    Map<String, String> labels, String accelerator, Instant lastHeartbeat, long generation,
                    long observedGeneration, String agentUrl, long version, Instant createdAt,
                    List<OrphanView> orphans, CapacityView pendingClaim, String underlayAddress) {}

    /** Data a node set aside when it evicted a VM (its data disk and snapshot); an operator removes it. */
    record OrphanView(String instanceId, String path, long bytes, String reason, Instant at) {}

    record RegisteredView(String nodeId, String token, long heartbeatIntervalSecs, String certificate,
                          String caCertificate, String relayToken) {
        @Override
        public String toString() {
            return "RegisteredView[nodeId=" + nodeId + ", secrets=(hidden)]";
        }
    }

    record CertificateView(String certificate, String caCertificate) {}

    record DesiredInstanceView(String id, String tenant, String pool, String role, String desiredState, int vcpus,
                               long memoryMib, long dataDiskMib, String ip, int prefix, String gateway, String mac,
                               int netId, List<String> cmd, Map<String, String> env, Map<String, String> secrets,
                               Map<String, String> configFiles, String revision, String template,
                               String templateRevision, List<ArtifactRef> artifacts, List<PortView> ports,
                               IdleView idle, boolean restartWorkload) {}

    record ArtifactRef(String role, String path, long size, String sha256) {}

    /** An exposed port; {@code host} 0: the node picks one. */
    record PortView(int guest, int host, String protocol) {}

    /** The idle policy on the agent protocol: durations in milliseconds. */
    record IdleView(long warmAfterMs, long sleepAfterMs, long minRuntimeMs, double cpuThreshold) {}

    static List<PortView> ports(io.mvm.core.scale.Exposure e) {
        return e.ports().isEmpty() ? null : e.ports().stream().map(p -> new PortView(p.guest(), p.host(), p.protocol()))
                .toList();
    }

    static IdleView idle(io.mvm.core.scale.Exposure e) {
        return e.idle().map(i -> new IdleView(i.warmAfter().toMillis(), i.sleepAfter().toMillis(),
                i.minRuntime().toMillis(), i.cpuThreshold())).orElse(null);
    }

    record DesiredView(long generation, List<DesiredInstanceView> instances, List<PeerView> peers) {}

    /** An instance of one of the node's tenants on another node, reached over VXLAN (docs/networking.md). */
    record PeerView(String instance, String tenant, int netId, String mac, String ip, String node, String underlay) {}

    record EventView(Instant time, String type, String message, String node) {}

    record NodeTokenView(String id, String nodeId, String token, String caFingerprint, boolean tls) {}

    /** A node token as listed: never its secret. */
    record NodeTokenListing(String id, String nodeId, Instant createdAt, Instant revokedAt) {}

    static NodeTokenListing nodeToken(io.mvm.store.auth.TokenStore.TokenRecord record) {
        var t = record.token();
        return new NodeTokenListing(t.id(), t.node().orElseThrow().value(), t.createdAt(), record.revokedAt().orElse(null));
    }

    /** A tenant or metrics token as issued: its secret is shown this once. */
    record TokenView(String id, String kind, String name, String tenant, String role, String token) {}

    /** A tenant or metrics token as listed: never its secret. */
    record TokenListing(String id, String kind, String name, String tenant, String role, Instant createdAt,
                        Instant revokedAt) {}

    static TokenListing token(io.mvm.store.auth.TokenStore.TokenRecord record) {
        var t = record.token();
        return new TokenListing(t.id(), t.kind().name().toLowerCase(java.util.Locale.ROOT), t.name(),
                t.tenant().map(x -> x.value()).orElse(null), t.role().orElse(null), t.createdAt(),
                record.revokedAt().orElse(null));
    }

    record AuditView(long seq, Instant at, String actor, String action, String resource, Long beforeVersion,
                     Long afterVersion, String outcome) {}

    /** {@code nextAfter} (a sequence number, for older clients) and {@code next} (a cursor) name the same page. */
    record AuditPage(List<AuditView> entries, Long nextAfter, @com.fasterxml.jackson.annotation.JsonInclude(
            com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL) String next) {}

    /** A list answer; {@code next} is the cursor of the next page, absent on the last one. */
    record ListOf<T>(List<T> items, @com.fasterxml.jackson.annotation.JsonInclude(
            com.fasterxml.jackson.annotation.JsonInclude.Include.NON_NULL) String next) {
        ListOf(List<T> items) {
            this(items, null);
        }
    }

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
        return pool(p, io.mvm.coordinator.pool.PoolService.Scale.NONE);
    }

    static PoolView pool(Pool p, io.mvm.coordinator.pool.PoolService.Scale scale) {
        var c = p.counts();
        var e = scale.exposure();
        return new PoolView(p.ref().tenant().value(), p.ref().name().value(), p.role().wireName(), p.role().priority(),
                p.profile(), p.flake(), p.template().orElse(null), p.vcpus(), p.memoryMib(), p.dataDiskMib(),
                new DrivesView(true, p.role().hasDataDrive(), p.role().requiresSecretsDrive(),
                        p.role().requiresConfigDrive()),
                new CountsView(c.running(), c.warm(), c.sleeping(), c.stopped()), p.workload().cmd(),
                new java.util.TreeMap<>(p.workload().env()), p.workload().secrets().keySet().stream().sorted().toList(),
                new java.util.TreeMap<>(p.workload().configFiles()), p.workload().restartOnExit(),
                p.onNodeLost().wireName(), p.revision(),
                p.version(), p.createdAt(), p.updatedAt(),
                e.ports().stream().map(x -> new PortView(x.guest(), x.host(), x.protocol())).toList(),
                e.idle().map(i -> new IdlePolicyView(io.mvm.core.scale.IdlePolicy.formatDuration(i.warmAfter()),
                        io.mvm.core.scale.IdlePolicy.formatDuration(i.sleepAfter()),
                        io.mvm.core.scale.IdlePolicy.formatDuration(i.minRuntime()), i.cpuThreshold())).orElse(null),
                new AvailableView(scale.running(), scale.idled()));
    }

    static InstanceView instance(Instance i) {
        return instance(i, java.util.Optional.empty());
    }

    /** With the template revision the instance is to boot and the one its node reports it booted. */
    static InstanceView instance(Instance i,
                                 java.util.Optional<io.mvm.store.template.TemplateRegistryStore.InstanceRevision> t) {
        return new InstanceView(i.id().value(), i.pool().tenant().value(), i.pool().name().value(),
                i.desired().wireName(), i.state().wireName(), i.node().map(NodeId::value).orElse(null), i.ip(),
                i.revision(), i.lastError().orElse(null), i.pendingReason().orElse(null), i.pid().orElse(null),
                i.accelerator().orElse(null), i.version(), i.createdAt(), i.updatedAt(),
                t.map(r -> r.template()).orElse(null), t.flatMap(r -> r.assigned()).orElse(null),
                t.flatMap(r -> r.booted()).orElse(null));
    }

    static NodeView node(NodeService.NodeSummary s) {
        Node n = s.node();
        Capacity a = s.allocated();
        return new NodeView(n.id().value(), n.status(), new CapacityView(n.vcpus(), n.memoryMib(), n.diskMib()),
                new CapacityView(a.vcpus(), a.memoryMib(), a.diskMib()), s.instances(), new java.util.TreeMap<>(n.labels()),
                n.accelerator().wireName(), n.lastHeartbeat().orElse(null), n.generation(), n.observedGeneration(),
                n.agentUrl().orElse(null), n.version(), n.createdAt(), s.orphans().stream()
                        .map(o -> new OrphanView(o.instanceId(), o.path(), o.bytes(), o.reason(), o.at())).toList(),
                s.pendingClaim().map(p -> new CapacityView(p.vcpus(), p.memoryMib(), p.diskMib())).orElse(null),
                s.underlay().orElse(null));
    }

    static DesiredView desired(NodeService.Desired d) {
        return new DesiredView(d.generation(), d.instances().stream().map(e -> new DesiredInstanceView(e.id(),
                e.tenant(), e.pool(), e.role(), e.desiredState(), e.vcpus(), e.memoryMib(), e.dataDiskMib(), e.ip(),
                e.prefix(), e.gateway(), e.mac(), e.netId(), e.cmd(), e.env(), e.secrets(), e.configFiles(),
                e.revision(), e.template(), e.templateRevision(), e.artifacts().stream()
                        .map(a -> new ArtifactRef(a.role(), a.path(), a.size(), a.sha256())).toList(),
                ports(e.exposure()), idle(e.exposure()), e.restartWorkload())).toList(), d.peers().stream()
                .map(p -> new PeerView(p.instance().value(), p.tenant().value(), p.netId(), p.mac().value(),
                        p.address().toString(), p.node().value(), p.underlay().toString())).toList());
    }

    static EventView event(InstanceEvent e) {
        return new EventView(e.at(), e.type(), e.message().isEmpty() ? null : e.message(), e.node().value());
    }

    static AuditView audit(AuditEntry e) {
        return new AuditView(e.seq(), e.at(), e.actor(), e.action(), e.resource(), e.beforeVersion().orElse(null),
                e.afterVersion().orElse(null), e.outcome());
    }
}
