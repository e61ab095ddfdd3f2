package io.mvm.agent.local;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.json.JsonMapper;
import io.mvm.agent.relay.GuestAccess;
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
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.hostnet.GuestNetworkConfig;
import io.mvm.runtime.image.GuestImage;
import io.mvm.runtime.template.TemplateBoot;
import io.mvm.runtime.qemu.QemuBackend;
import io.mvm.runtime.qemu.SerialLog;
import io.mvm.runtime.state.AtomicFile;
import io.mvm.runtime.vm.LocalVms;
import io.mvm.runtime.vm.VmStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.locks.ReentrantLock;
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

    /** Resolves templated instances' images: a pinned revision, fetched when missing, or the local current one. */
    private final io.mvm.agent.templates.TemplateArtifacts templates;

    public LocalInstanceRuntime(LocalVms vms, GuestImage image, AgentNetwork network, Path dataDir) {
        this(vms, image, network, dataDir, new io.mvm.agent.templates.TemplateArtifacts(dataDir, Optional.empty(),
                java.time.InstantSource.system()));
    }

    public LocalInstanceRuntime(LocalVms vms, GuestImage image, AgentNetwork network, Path dataDir,
                                io.mvm.agent.templates.TemplateArtifacts templates) {
        this.templates = templates;
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
        vms.run(vmSpec(spec, hostSpec));
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
     * would put two VMMs on one disk, so the VMM named by the VM's own pid file is ended first
     * (only if that process's command line still names this VM's directory: pids get reused).
     */
    private void killStrayVmm(InstanceId id) {
        Path dir = vms.directory(id.value());
        Path pidFile = dir.resolve("qemu.pid");
        if (!Files.isRegularFile(pidFile)) {
            return;
        }
        try {
            long pid = Long.parseLong(Files.readString(pidFile).strip());
            var process = ProcessHandle.of(pid).filter(ProcessHandle::isAlive).filter(p -> p.info().commandLine()
                    .map(cmd -> cmd.contains(dir.toString())).orElse(false));
            if (process.isPresent()) {
                log.warn("instance {}: ending stray VMM {} left by an interrupted start", id, pid);
                process.get().destroyForcibly();
                process.get().onExit().get(10, java.util.concurrent.TimeUnit.SECONDS);
            }
        } catch (IOException | NumberFormatException | java.util.concurrent.ExecutionException
                 | java.util.concurrent.TimeoutException e) {
            log.warn("instance {}: cannot check its pid file: {}", id, e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw MvmException.unavailable("interrupted while ending a stray VMM of " + id, e);
        }
    }

    @Override
    public boolean probeGuest(InstanceId id, Duration timeout) {
        try (var channel = vms.guest(id.value())) {
            channel.health(timeout);
            return true;
        } catch (MvmException e) {
            return false;
        }
    }

    @Override
    public Accelerator accelerator() {
        return vms.backend() instanceof QemuBackend q ? q.settings().accelerator() : Accelerator.TCG;
    }

    // ------------------------------------------------------------------ relay access

    @Override
    public GuestChannel.ExecResult exec(InstanceId id, GuestChannel.ExecRequest request) {
        requireRecord(id);
        var state = status(id).orElseThrow(() -> MvmException.notFound("instance " + id + " has no VM on this node"))
                .state();
        if (state != InstanceState.RUNNING) {
            throw MvmException.precondition("instance " + id + " is " + state.wireName() + ", not running");
        }
        try (var channel = vms.guest(id.value())) {
            return channel.exec(request);
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
        return b.build();
    }

    /** The guest runs {@code cmd} through /bin/sh; each argument is single-quoted so it stays one word. */
    static String shellCommand(List<String> argv) {
        var out = new StringBuilder();
        for (var arg : argv) {
            if (!out.isEmpty()) {
                out.append(' ');
            }
            out.append('\'').append(arg.replace("'", "'\\''")).append('\'');
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
                    var spec = HostNetworkPlan.of(host.tableName(), host.uplink(), readRecords());
                    host.applier().apply(spec);
                    yield Optional.of(spec);
                } finally {
                    networkLock.unlock();
                }
            }
        };
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
