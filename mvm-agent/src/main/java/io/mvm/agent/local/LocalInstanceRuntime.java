package io.mvm.agent.local;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mvm.agent.relay.GuestAccess;
import io.mvm.agent.runtime.ClaimReport;
import io.mvm.agent.runtime.InstanceRuntime;
import io.mvm.agent.runtime.LocalVm;
import io.mvm.agent.runtime.Orphan;
import io.mvm.core.netpolicy.HostNetworkSpec;
import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.VmState;
import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceId;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.GuestIdentity;
import io.mvm.runtime.hostnet.GuestNetworkConfig;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.template.TemplateBoot;
import io.mvm.runtime.qemu.QemuBackend;
import io.mvm.runtime.qemu.SerialLog;
import io.mvm.files.AtomicFile;
import io.mvm.runtime.vm.LocalVms;
import io.mvm.runtime.vm.VmStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import java.util.random.RandomGenerator;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The agent's {@link InstanceRuntime} over mvm-runtime's {@link LocalVms} (QEMU today): maps an
 * {@link InstanceSpec} to a {@link VmSpec}, keeps an {@link InstanceRecord} per instance under
 * {@code <dataDir>/agent/instances/}, and keeps the host network (bridges, taps, nftables) equal
 * to the instances it has — applied before a boot and after a destroy, which also repairs drift.
 *
 * <p>Every operation first looks at the VM's current state and does nothing when it is already
 * where it should be, so a step repeated after an agent crash is harmless.
 */
public final class LocalInstanceRuntime implements InstanceRuntime, GuestAccess {
    private static final Logger log = LoggerFactory.getLogger(LocalInstanceRuntime.class);
    private static final Duration STOP_GRACE = Duration.ofSeconds(10);
    private static final Duration RESTART_GRACE = Duration.ofSeconds(3);
    private static final ObjectMapper JSON = JsonMapper.builder()
            .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .build();

    private final LocalVms vms;
    private final GuestImage image;
    private final AgentNetwork network;
    private final Path records;
    // A lock, not synchronized: a virtual thread waiting here must not pin its carrier.
    private final ReentrantLock networkLock = new ReentrantLock();
    /** Where this node's templates are built ({@code <data-dir>/templates}). */
    private final Path dataDir;
    /** The coordinator's latest list of our tenants' instances on other nodes (VXLAN forwarding). */
    private volatile List<io.mvm.core.netpolicy.OverlayPeers.Peer> peers = List.of();

    private final InstantSource clock;
    private final RandomGenerator random;
    /** Claims of one instance are serialised: the coordinator's call and a reconcile pass may race. */
    private final ConcurrentHashMap<InstanceId, ReentrantLock> claimLocks = new ConcurrentHashMap<>();
    /**
     * Claims in progress: their records as they will be once written. Every network sync in the
     * meantime (another instance's boot) must keep a claimed tap on its tenant's bridge.
     */
    private final ConcurrentHashMap<InstanceId, InstanceRecord> claiming = new ConcurrentHashMap<>();
    /** The last claim done here per instance, so the path that arrives second can tell how it went. */
    private final ConcurrentHashMap<InstanceId, ClaimReport> lastClaims = new ConcurrentHashMap<>();
    /** Resolves templated instances' images: a pinned revision, fetched when missing, or the local current one. */
    private final io.mvm.agent.templates.TemplateArtifacts templates;

    public LocalInstanceRuntime(LocalVms vms, GuestImage image, AgentNetwork network, Path dataDir) {
        this(vms, image, network, dataDir, new io.mvm.agent.templates.TemplateArtifacts(dataDir, Optional.empty(),
                InstantSource.system()));
    }

    public LocalInstanceRuntime(LocalVms vms, GuestImage image, AgentNetwork network, Path dataDir,
                                io.mvm.agent.templates.TemplateArtifacts templates) {
        this(vms, image, network, dataDir, templates, InstantSource.system(), new SecureRandom());
    }

    public LocalInstanceRuntime(LocalVms vms, GuestImage image, AgentNetwork network, Path dataDir,
                                io.mvm.agent.templates.TemplateArtifacts templates, InstantSource clock,
                                RandomGenerator random) {
        this.templates = templates;
        this.clock = clock;
        this.random = random;
        this.dataDir = dataDir;
        this.vms = vms;
        this.image = image;
        this.network = network;
        this.records = dataDir.resolve("agent").resolve("instances");
        try {
            Files.createDirectories(records);
        } catch (IOException e) {
            throw MvmException.precondition("cannot create " + records + ": " + e.getMessage());
        }
    }

    /**
     * What a freshly started agent runs once: re-adopt VMs (the runtime's recovery), drop records
     * of instances whose VM never came to exist (a crash mid-create), and bring the host network
     * back to what the remaining instances need.
     */
    public LocalVms.Recovery recover() {
        var recovery = vms.recoverAll();
        var existing = vms.list().stream().map(VmStatus::name).toList();
        for (var r : readRecords()) {
            if (!existing.contains(r.id())) {
                log.info("dropping the record of {}: its VM was never created", r.id());
                deleteRecord(r.instanceId());
            }
        }
        syncNetwork();
        return recovery;
    }

    @Override
    public List<LocalVm> observe() {
        return toLocalVms(vms.list());
    }

    @Override
    public List<LocalVm> observe(InstanceId focus) {
        var statuses = new ArrayList<VmStatus>();
        for (var recorded : vms.listRecorded()) {
            if (!recorded.name().equals(focus.value())) {
                statuses.add(recorded);
            }
        }
        vms.find(focus.value()).ifPresent(statuses::add);
        return toLocalVms(statuses);
    }

    private List<LocalVm> toLocalVms(List<VmStatus> statuses) {
        var byId = new TreeMap<String, InstanceRecord>();
        readRecords().forEach(r -> byId.put(r.id(), r));
        var out = new ArrayList<LocalVm>();
        for (var status : statuses) {
            var record = byId.get(status.name());
            if (record == null) {
                continue; // not an agent instance (e.g. made with `mvm vm run` in this data dir)
            }
            out.add(new LocalVm(record.instanceId(), record.tenantId(), record.roleValue(), vmState(status.state()),
                    status.pid() > 0 ? OptionalLong.of(status.pid()) : OptionalLong.empty(),
                    Optional.ofNullable(status.reason()).filter(s -> !s.isBlank())));
        }
        return out;
    }

    @Override
    public void create(InstanceSpec spec) {
        var current = status(spec.id());
        if (current.isPresent()) {
            return;
        }
        writeRecord(InstanceRecord.of(spec));
        var hostSpec = syncNetwork();
        VmSpec vm = vmSpec(spec, hostSpec);
        new TemplateInstanceBoot(vms, dataDir).create(spec, vm);
        if (spec.tenant().standby()) {
            rehearseClaim(vm);
        }
    }

    /**
     * Runs the guest's side of a claim once while the warm VM has no owner yet (its own hostname, a
     * link-local address on a tap that reaches nothing, its empty drives remounted). Under TCG a
     * guest's first run of code costs its translation; this moves that cost of the identity call's
     * programs (ip, mount, hostname, date) from the claim, where a caller waits, to the warm boot.
     * The claim then replaces every value set here.
     */
    private void rehearseClaim(VmSpec vm) {
        long started = System.nanoTime();
        try (var channel = vms.guest(vm.name().value())) {
            channel.applyIdentity(new GuestIdentity(rehearsalEntropy(), clock.instant(), Optional.of(vm.name().value()),
                    vm.nic().map(n -> new GuestIdentity.Network(n.mac(), "169.254.77.2/16", null)), Optional.empty(),
                    true, Optional.empty(), Map.of()), Duration.ofSeconds(60));
            log.info("warm VM {}: claim rehearsed in {} ms", vm.name(), (System.nanoTime() - started) / 1_000_000);
        } catch (MvmException e) {
            // Only a speed-up: a claim works without it.
            log.warn("warm VM {}: claim rehearsal failed ({}); its first claim will be slower", vm.name(),
                    e.getMessage());
        }
    }

    private byte[] rehearsalEntropy() {
        byte[] bytes = new byte[GuestIdentity.MIN_ENTROPY_BYTES];
        random.nextBytes(bytes);
        return bytes;
    }

    @Override
    public void start(InstanceSpec spec) {
        var current = status(spec.id());
        if (current.isEmpty()) {
            create(spec);
            return;
        }
        switch (current.get().state()) {
            case RUNNING, WARM -> { }
            case SLEEPING -> wake(spec);
            default -> {
                if (current.get().state() == InstanceState.FAILED) {
                    killStrayVmm(spec.id());
                }
                syncNetwork();
                vms.start(spec.id().value(), Optional.of(spec.secrets()));
            }
        }
    }

    @Override
    public void pause(InstanceId id) {
        if (requireStatus(id).state() != InstanceState.WARM) {
            vms.pause(id.value());
        }
    }

    @Override
    public void resume(InstanceId id) {
        if (requireStatus(id).state() != InstanceState.RUNNING) {
            vms.resume(id.value());
        }
    }

    @Override
    public void sleep(InstanceId id, Duration drainDeadline) {
        if (requireStatus(id).state() != InstanceState.SLEEPING) {
            vms.sleep(id.value(), drainDeadline);
        }
    }

    @Override
    public void wake(InstanceSpec spec) {
        var state = requireStatus(spec.id()).state();
        if (state == InstanceState.RUNNING) {
            return;
        }
        if (state == InstanceState.WARM) {
            vms.resume(spec.id().value());
            return;
        }
        syncNetwork();
        vms.wake(spec.id().value(), Optional.of(spec.secrets()));
    }

    @Override
    public void stop(InstanceId id) {
        var state = requireStatus(id).state();
        if (state != InstanceState.STOPPED) {
            vms.stop(id.value(), STOP_GRACE);
        }
    }

    @Override
    public void destroy(InstanceId id) {
        lastClaims.remove(id);
        var current = status(id);
        if (current.isPresent()) {
            if (current.get().state() == InstanceState.FAILED) {
                killStrayVmm(id);
            }
            try {
                vms.destroy(id.value());
            } catch (MvmException e) {
                if (e.category() != ErrorCategory.NOT_FOUND) {
                    throw e;
                }
            }
        }
        deleteRecord(id);
        syncNetwork();
    }

    @Override
    public Optional<Path> evict(InstanceId id, String reason) {
        var current = status(id);
        Optional<Path> kept = Optional.empty();
        if (current.isPresent()) {
            if (current.get().state() == InstanceState.FAILED) {
                killStrayVmm(id);
            }
            kept = vms.setAside(id.value(), reason, STOP_GRACE);
            kept.ifPresent(path -> log.warn("instance {} is no longer in this node's desired state ({}): its VMM is"
                    + " ended and its data disk and snapshot are kept in {}; remove that directory once the instance's"
                    + " data is safe elsewhere (docs/operations.md, \"Orphaned data\")", id, reason, path));
        }
        deleteRecord(id);
        syncNetwork();
        return kept;
    }

    @Override
    public List<Orphan> orphans() {
        return vms.orphans().list().stream()
                .map(o -> new Orphan(o.name(), o.path(), o.bytes(), o.reason(), o.at()))
                .toList();
    }

    @Override
    public ClaimReport claim(InstanceSpec spec) {
        if (spec.tenant().standby()) {
            throw MvmException.invalid("instance " + spec.id() + " cannot be claimed by " + spec.tenant());
        }
        ReentrantLock lock = claimLocks.computeIfAbsent(spec.id(), k -> new ReentrantLock());
        lock.lock();
        try {
            InstanceRecord current = readRecords().stream().filter(r -> r.instanceId().equals(spec.id())).findFirst()
                    .orElseThrow(() -> MvmException.notFound("instance " + spec.id() + " has no VM on this node"));
            if (!current.standby()) {
                if (current.tenantId().equals(spec.tenant())) {
                    // Claimed already, by the other path (the coordinator's call or a reconcile pass).
                    ClaimReport done = lastClaims.get(spec.id());
                    return done == null ? new ClaimReport(true, Map.of(), 0)
                            : new ClaimReport(true, done.phaseMillis(), done.generation());
                }
                throw MvmException.conflict("instance " + spec.id() + " belongs to tenant " + current.tenant()
                        + ", it is not standing by");
            }
            var phases = new LinkedHashMap<String, Long>();
            long started = System.nanoTime();
            InstanceRecord claimedRecord = InstanceRecord.of(spec);
            VmSpec claimed;
            GuestIdentity identity;
            io.mvm.runtime.backend.Claimable.Claimed result;
            try {
                // The tap joins the tenant's bridge (with its MAC/IP rules) before the guest has its
                // address, so the workload never starts on a network that is not there yet.
                claiming.put(spec.id(), claimedRecord);
                var hostSpec = syncNetwork();
                phases.put("network", (System.nanoTime() - started) / 1_000_000);
                claimed = withClaimDrives(vmSpec(spec, hostSpec));
                identity = GuestIdentity.forClone(clock.instant(), random, spec.id().value(),
                        claimed.nic().filter(NicSpec::addressed)
                                .map(n -> new GuestIdentity.Network(n.mac(), n.cidr(), n.gateway())),
                        Optional.ofNullable(claimed.cmd()), claimed.env());
                result = vms.claim(spec.id().value(), claimed, identity);
            } catch (RuntimeException e) {
                // Never keep a half-claimed VM: it may hold the tenant's secrets, or not be the
                // tenant's yet. Gone, the instance is booted afresh by the next reconcile pass.
                log.warn("claim of warm VM {} for tenant {} failed, destroying it: {}", spec.id(), spec.tenant(),
                        e.getMessage());
                try {
                    vms.destroy(spec.id().value());
                } catch (RuntimeException destroyFailed) {
                    log.warn("cannot destroy half-claimed VM {}: {}", spec.id(), destroyFailed.getMessage());
                }
                claiming.remove(spec.id());
                deleteRecord(spec.id());
                syncNetwork();
                throw e;
            }
            // Written last: a crash before this leaves a running VM recorded as standing by, which
            // the planner destroys (never one recorded as the tenant's without its identity).
            writeRecord(claimedRecord);
            claiming.remove(spec.id());
            phases.putAll(result.phaseMillis());
            phases.put("total", (System.nanoTime() - started) / 1_000_000);
            ClaimReport report = new ClaimReport(false, phases, result.generation());
            lastClaims.put(spec.id(), report);
            return report;
        } finally {
            lock.unlock();
        }
    }

    /** A warm VM always has a secrets and a config drive, so any claim can fill them in place. */
    private static VmSpec withClaimDrives(VmSpec spec) {
        var drives = new ArrayList<>(spec.drives());
        if (spec.drive(DriveSpec.Secrets.class).isEmpty()) {
            drives.add(new DriveSpec.Secrets(Map.of()));
        }
        if (spec.drive(DriveSpec.Config.class).isEmpty()) {
            drives.add(new DriveSpec.Config(1, Map.of()));
        }
        return new VmSpec(spec.name(), spec.vcpus(), spec.memoryMib(), spec.image(), drives, spec.cmd(), spec.env(),
                spec.nic());
    }

    @Override
    public void restart(InstanceSpec spec) {
        var current = status(spec.id());
        if (current.isEmpty()) {
            create(spec);
            return;
        }
        switch (current.get().state()) {
            case STOPPED -> { }
            case FAILED -> killStrayVmm(spec.id());
            default -> vms.stop(spec.id().value(), RESTART_GRACE);
        }
        syncNetwork();
        vms.start(spec.id().value(), Optional.of(spec.secrets()));
    }

    /**
     * An agent killed between QEMU's launch and the handle recording its pid leaves a handle
     * without a pid while the VMM runs on: the runtime then reports it failed. Booting again
     * would put two VMMs on one disk, so such a VMM is ended first (the runtime's one matcher,
     * {@code LocalVms.endOrphanedVmm}, proves it is this VM's by its exact monitor socket).
     */
    private void killStrayVmm(InstanceId id) {
        vms.endOrphanedVmm(id.value()).ifPresent(pid ->
                log.warn("instance {}: ended stray VMM {} left by an interrupted start", id, pid));
    }

    @Override
    public boolean probeGuest(InstanceId id, Duration timeout) {
        return probe(id, timeout) != GuestProbe.SILENT;
    }

    @Override
    public GuestProbe probe(InstanceId id, Duration timeout) {
        try (var channel = vms.guest(id.value())) {
            return channel.health(timeout).workloadExited() ? GuestProbe.WORKLOAD_EXITED : GuestProbe.ANSWERED;
        } catch (MvmException e) {
            return GuestProbe.SILENT;
        }
    }

    @Override
    public Accelerator accelerator() {
        return vms.backend() instanceof QemuBackend q ? q.settings().accelerator() : Accelerator.TCG;
    }

    // ------------------------------------------------------------------ relay access

    @Override
    public GuestChannel.ExecResult exec(InstanceId id, GuestChannel.ExecRequest request, GuestChannel.ExecOutput output) {
        requireRecord(id);
        var state = status(id).orElseThrow(() -> MvmException.notFound("instance " + id + " has no VM on this node"))
                .state();
        if (state != InstanceState.RUNNING) {
            throw MvmException.precondition("instance " + id + " is " + state.wireName() + ", not running");
        }
        try (var channel = vms.guest(id.value())) {
            return channel.exec(request, output);
        }
    }

    @Override
    public GuestChannel.WorkloadStatus workload(InstanceId id) {
        requireRecord(id);
        var state = status(id).orElseThrow(() -> MvmException.notFound("instance " + id + " has no VM on this node"))
                .state();
        if (state != InstanceState.RUNNING) {
            throw MvmException.precondition("instance " + id + " is " + state.wireName() + ", not running");
        }
        try (var channel = vms.guest(id.value())) {
            return channel.workload(Duration.ofSeconds(10));
        }
    }

    @Override
    public String consoleTail(InstanceId id, int lines) {
        requireRecord(id);
        var handle = vms.handle(id.value());
        if (handle.serialLog() == null || !Files.exists(handle.serialLog())) {
            return "";
        }
        return SerialLog.tail(handle.serialLog(), lines);
    }

    // ------------------------------------------------------------------ mapping

    VmSpec vmSpec(InstanceSpec spec, Optional<HostNetworkSpec> hostSpec) {
        // A template's current revision on this node (built with 'mvm template build'), with the
        // image's own workload and environment unless the pool gives its own.
        TemplateBoot boot = spec.template()
                .map(t -> templates.boot(spec, spec.cmd().isEmpty() ? null : shellCommand(spec.cmd()), spec.env()))
                .orElseGet(() -> new TemplateBoot(image, spec.cmd().isEmpty() ? null : shellCommand(spec.cmd()),
                        spec.env()));
        var b = VmSpec.builder(spec.id().value(), boot.image()).vcpus(spec.vcpus()).memoryMib(spec.memoryMib())
                .env(boot.env());
        if (boot.cmd() != null) {
            b.cmd(boot.cmd());
        }
        if (spec.dataDiskMib() > 0) {
            b.drive(new DriveSpec.Data(Math.max(8, spec.dataDiskMib())));
        }
        if (!spec.secrets().isEmpty()) {
            b.drive(new DriveSpec.Secrets(spec.secrets()));
        }
        var config = new TreeMap<String, byte[]>();
        spec.configFiles().forEach((k, v) -> config.put(k, v.getBytes(StandardCharsets.UTF_8)));
        hostSpec.filter(h -> h.instances().stream().anyMatch(p -> p.instance().equals(spec.id())))
                .flatMap(h -> GuestNetworkConfig.gatewayJson(h, spec.id()))
                .ifPresent(json -> config.put("gateway.json", json.getBytes(StandardCharsets.UTF_8)));
        if (!config.isEmpty() || spec.role().requiresConfigDrive()) {
            b.drive(new DriveSpec.Config(1, config));
        }
        hostSpec.filter(h -> h.instances().stream().anyMatch(p -> p.instance().equals(spec.id())))
                .ifPresent(h -> b.nic(GuestNetworkConfig.nic(h, spec.id())));
        if (spec.tenant().standby()) {
            // Standing by for a claim: a NIC on a tap that reaches nothing (when this node has a
            // network), and empty secrets and config drives that the claim fills in place.
            hostSpec.flatMap(h -> h.standby().stream().filter(p -> p.instance().equals(spec.id())).findFirst())
                    .ifPresent(p -> b.nic(NicSpec.standby(p.portName(), p.mac().value())));
            VmSpec built = withClaimDrives(b.build());
            // No workload either (not even a template's own): it starts with the claim, as the tenant's.
            return new VmSpec(built.name(), built.vcpus(), built.memoryMib(), built.image(), built.drives(), null,
                    Map.of(), built.nic());
        }
        return b.build();
    }

    /** The guest runs {@code cmd} through /bin/sh; each argument is single-quoted so it stays one word. */
    static String shellCommand(List<String> argv) {
        var out = new StringBuilder();
        for (var arg : argv) {
            if (!out.isEmpty()) {
                out.append(' ');
            }
            out.append(io.mvm.core.shell.ShellWords.quote(arg));
        }
        return out.toString();
    }

    private static VmState vmState(InstanceState state) {
        return switch (state) {
            case RUNNING -> VmState.RUNNING;
            case WARM -> VmState.WARM;
            case SLEEPING -> VmState.SLEEPING;
            case STOPPED -> VmState.STOPPED;
            case FAILED -> VmState.CRASHED;
            case UNKNOWN -> VmState.UNKNOWN;
            default -> VmState.BUSY;
        };
    }

    // ------------------------------------------------------------------ network

    /**
     * Applies the host network for every instance kept here (which also repairs drift); empty when
     * the agent runs without one. Reading the records and applying happen under one lock: a spec
     * computed before another worker's create wrote its record, but applied after, would delete
     * that instance's new tap.
     */
    public Optional<HostNetworkSpec> syncNetwork() {
        return switch (network) {
            case AgentNetwork.None none -> Optional.empty();
            case AgentNetwork.Host host -> {
                networkLock.lock();
                try {
                    var records = new ArrayList<>(readRecords());
                    for (InstanceRecord r : claiming.values()) {
                        records.removeIf(old -> old.id().equals(r.id()));
                        records.add(r);
                    }
                    var spec = HostNetworkPlan.of(host.tableName(), host.uplink(), records, host.overlay(), peers);
                    host.applier().apply(spec);
                    if (host.overlay().isPresent()) {
                        // What `mvm net verify --data-dir` compares the host with (VXLAN devices and entries too).
                        io.mvm.runtime.hostnet.HostNetworkStateFile.write(
                                io.mvm.runtime.hostnet.HostNetworkStateFile.defaultPath(dataDir), spec);
                    }
                    yield Optional.of(spec);
                } finally {
                    networkLock.unlock();
                }
            }
        };
    }

    @Override
    public Optional<String> underlayAddress() {
        return network instanceof AgentNetwork.Host host
                ? host.overlay().map(o -> o.underlay().toString()) : Optional.empty();
    }

    /** New peers (another node's instances of our tenants moved, came or went) re-apply the host network at once. */
    @Override
    public void peers(List<io.mvm.core.netpolicy.OverlayPeers.Peer> next) {
        if (network instanceof AgentNetwork.Host host && host.overlay().isPresent() && !next.equals(peers)) {
            peers = List.copyOf(next);
            syncNetwork();
        }
    }

    /** Removes this agent's nftables tables and every device they own (`mvm up --stop-vms-on-exit`, tests). */
    public void removeNetwork() {
        if (network instanceof AgentNetwork.Host host) {
            host.applier().removeAll(host.tableName());
        }
    }

    // ------------------------------------------------------------------ records

    /** This VM alone (one status query, not one per VM of the node). */
    private Optional<VmStatus> status(InstanceId id) {
        return vms.find(id.value());
    }

    private VmStatus requireStatus(InstanceId id) {
        return status(id).orElseThrow(() -> MvmException.notFound("instance " + id + " has no VM on this node"));
    }

    private void requireRecord(InstanceId id) {
        if (!Files.exists(recordFile(id))) {
            throw MvmException.notFound("instance " + id + " is not on this node");
        }
    }

    private Path recordFile(InstanceId id) {
        return records.resolve(id.value() + ".json");
    }

    private void writeRecord(InstanceRecord record) {
        try {
            AtomicFile.write(recordFile(record.instanceId()), JSON.writeValueAsBytes(record),
                    PosixFilePermissions.fromString("rw-------"));
        } catch (IOException e) {
            throw MvmException.internal("cannot encode the record of " + record.id(), e);
        }
    }

    private void deleteRecord(InstanceId id) {
        try {
            Files.deleteIfExists(recordFile(id));
        } catch (IOException e) {
            throw MvmException.internal("cannot remove " + recordFile(id) + ": " + e.getMessage(), e);
        }
    }

    List<InstanceRecord> readRecords() {
        try (Stream<Path> files = Files.list(records)) {
            var out = new ArrayList<InstanceRecord>();
            for (var f : files.filter(p -> p.getFileName().toString().endsWith(".json")
                    && !p.getFileName().toString().startsWith(".")).sorted().toList()) {
                try {
                    out.add(JSON.readValue(f.toFile(), InstanceRecord.class));
                } catch (IOException | RuntimeException e) {
                    log.warn("ignoring unreadable instance record {}: {}", f, e.getMessage());
                }
            }
            return out;
        } catch (IOException e) {
            throw MvmException.internal("cannot list " + records + ": " + e.getMessage(), e);
        }
    }
}
