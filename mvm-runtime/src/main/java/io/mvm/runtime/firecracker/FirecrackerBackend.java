package io.mvm.runtime.firecracker;

import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.Capabilities;
import io.mvm.runtime.backend.ControlSilence;
import io.mvm.runtime.backend.Fingerprint;
import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.HypervisorBackend;
import io.mvm.runtime.backend.Pausable;
import io.mvm.runtime.backend.Polling;
import io.mvm.runtime.backend.Snapshottable;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.backend.VmmProcess;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.cgroup.VmCgroup;
import io.mvm.runtime.drive.AttachedDrive;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.firecracker.FirecrackerCall.BootSource;
import io.mvm.runtime.firecracker.FirecrackerCall.Drive;
import io.mvm.runtime.firecracker.FirecrackerCall.MachineConfiguration;
import io.mvm.runtime.firecracker.FirecrackerCall.MemoryBackend;
import io.mvm.runtime.firecracker.FirecrackerCall.NetworkInterface;
import io.mvm.runtime.firecracker.FirecrackerCall.SnapshotCreateParams;
import io.mvm.runtime.firecracker.FirecrackerCall.SnapshotLoadParams;
import io.mvm.runtime.firecracker.FirecrackerCall.Vsock;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.qemu.AgentConnector;
import io.mvm.runtime.qemu.QemuLaunch;
import io.mvm.runtime.qemu.SerialLog;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Firecracker driven over its HTTP API. The VMM is launched detached ({@link FirecrackerLauncher}),
 * configured call by call (machine, boot source, drives, NIC, vsock) and started; the guest agent
 * is reached over vsock ({@link io.mvm.runtime.guest.VsockGuestChannel}). Pause is {@code PATCH
 * /vm}; sleep writes a full snapshot (vmstate + memory file) and lets the VMM go; wake loads it
 * into a fresh VMM. Firecracker needs KVM and an uncompressed ELF kernel ({@link VmlinuxExtractor}).
 */
public final class FirecrackerBackend implements HypervisorBackend, Pausable, Snapshottable {
    private static final Logger LOG = LoggerFactory.getLogger(FirecrackerBackend.class);
    private static final int SERIAL_TAIL_LINES = 15;

    static final String API_SOCKET = "fc.sock";
    static final String VSOCK_SOCKET = "vsock.sock";
    static final String SERIAL_LOG = "serial.log";
    static final String PID_FILE = "firecracker.pid";
    static final String SNAPSHOT_STATE = "snapshot.vmstate";
    static final String SNAPSHOT_MEMORY = "snapshot.mem";
    static final String VMLINUX_SUFFIX = ".vmlinux";
    /** Every Firecracker VM has its own vsock namespace, so one fixed CID serves all of them. */
    static final long GUEST_CID = 3;
    /**
     * Appended to the image's arguments: a guest reboot or panic ends the VMM (Firecracker has no
     * ACPI power-off), and the guest init learns that its agent belongs on vsock.
     */
    static final String FIRECRACKER_BOOT_ARGS = "reboot=k panic=1 mvm.agent=vsock";

    /**
     * @param apiDeadline how long the API of a live VMM may stay silent before the VM is observed
     *                    FAILED; until then an unanswered status read is UNKNOWN (see ControlSilence)
     */
    public record Settings(String binary, Duration bootTimeout, Duration controlTimeout, Duration apiDeadline) {
        public Settings {
            if (apiDeadline == null || apiDeadline.isNegative() || apiDeadline.isZero()) {
                throw MvmException.invalid("the API deadline must be positive, got " + apiDeadline);
            }
        }

        public Settings(String binary, Duration bootTimeout, Duration controlTimeout) {
            this(binary, bootTimeout, controlTimeout, Duration.ofSeconds(60));
        }

        public static Settings defaults() {
            return new Settings("firecracker", Duration.ofSeconds(120), Duration.ofSeconds(30));
        }
    }

    /** Whether this host can run Firecracker at all, and if not, why. */
    public record Availability(boolean available, String reason) {}

    private final Settings settings;
    private final VmDrives drives;
    private final CgroupLimits cgroups;
    private final AgentConnector agents;
    private final FirecrackerLauncher launcher;
    private final InstantSource clock;
    /** An unanswered status read is UNKNOWN until {@link Settings#apiDeadline()}. */
    private final ControlSilence silence;

    public FirecrackerBackend(Settings settings, VmDrives drives, CgroupLimits cgroups, AgentConnector agents,
                              FirecrackerLauncher launcher, InstantSource clock) {
        this.settings = settings;
        this.drives = drives;
        this.cgroups = cgroups;
        this.agents = agents;
        this.launcher = launcher;
        this.clock = clock;
        this.silence = new ControlSilence("API", settings.apiDeadline(), clock);
    }

    /**
     * Firecracker needs its binary and a KVM that really runs guests.
     *
     * @param kvmBoots what the accelerator probe found out by booting a guest, when it has run
     */
    public static Availability availability(String binary, Path devKvm, Optional<Boolean> kvmBoots) {
        List<String> missing = new ArrayList<>();
        if (findOnPath(binary).isEmpty()) {
            missing.add("no '" + binary + "' binary on PATH");
        }
        if (!Files.exists(devKvm)) {
            missing.add(devKvm + " does not exist");
        } else if (!Files.isReadable(devKvm) || !Files.isWritable(devKvm)) {
            missing.add(devKvm + " is not read/writable by this user");
        } else if (kvmBoots.isPresent() && !kvmBoots.get()) {
            missing.add(devKvm + " opens but a KVM guest does not boot here (see the accelerator check)");
        }
        if (missing.isEmpty()) {
            return new Availability(true, "firecracker on PATH and " + devKvm + " usable");
        }
        return new Availability(false, "Firecracker needs a firecracker binary on PATH and a working /dev/kvm: "
                + String.join("; ", missing));
    }

    static Optional<Path> findOnPath(String binary) {
        if (binary.contains("/")) {
            return Files.isExecutable(Path.of(binary)) ? Optional.of(Path.of(binary)) : Optional.empty();
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isBlank() && Files.isExecutable(Path.of(dir, binary))) {
                return Optional.of(Path.of(dir, binary));
            }
        }
        return Optional.empty();
    }

    @Override
    public String name() {
        return "firecracker";
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(true, true, Capabilities.GuestChannelKind.VSOCK, false, false, Set.of(Accelerator.KVM));
    }

    @Override
    public Fingerprint fingerprint() {
        return new Fingerprint(name(), version(), Accelerator.KVM, "Firecracker only runs on KVM");
    }

    private String version() {
        try {
            Process p = new ProcessBuilder(settings.binary(), "--version").redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
            if (!p.waitFor(10, TimeUnit.SECONDS) || p.exitValue() != 0 || out.isEmpty()) {
                return "unknown (" + settings.binary() + " --version failed)";
            }
            return out.lines().findFirst().orElse(out);
        } catch (IOException e) {
            return "unknown (" + settings.binary() + " not found)";
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "unknown (interrupted)";
        }
    }

    @Override
    public void validate(VmSpec spec) {
        bootArgs(spec);
    }

    /** The image's arguments, the shared mvm.* boot contract, then Firecracker's own. */
    static String bootArgs(VmSpec spec) {
        String contract = new QemuLaunch("firecracker", Accelerator.KVM, spec.vcpus(), spec.memoryMib(),
                spec.image().kernel(), spec.image().initramfs(), spec.image().bootArgs(), spec.name().value(),
                spec.nic(), List.of(), Path.of(SERIAL_LOG), Path.of(API_SOCKET),
                Path.of(VSOCK_SOCKET), Path.of(PID_FILE), Optional.empty()).kernelCommandLine();
        String line = contract + " " + FIRECRACKER_BOOT_ARGS;
        if (line.length() > QemuLaunch.MAX_KERNEL_CMDLINE) {
            throw MvmException.invalid("the kernel command line would be " + line.length() + " bytes (limit "
                    + QemuLaunch.MAX_KERNEL_CMDLINE + "): shorten cmd or env");
        }
        return line;
    }

    // ---------------------------------------------------------------- start

    @Override
    public VmHandle start(VmSpec spec, Path vmDir, HandleJournal journal) {
        VmHandle handle = new VmHandle(VmHandle.SCHEMA_VERSION, spec.name().value(), name(), Accelerator.KVM,
                InstanceState.CREATING, null, 0, 0, vmDir, vmDir.resolve(API_SOCKET), vmDir.resolve(VSOCK_SOCKET),
                vmDir.resolve(SERIAL_LOG), null, null, spec.nic().map(n -> n.ipv4()).orElse(null), clock.instant());
        return launchAndWait(spec, handle, false, journal);
    }

    private VmHandle launchAndWait(VmSpec spec, VmHandle initial, boolean restore, HandleJournal journal) {
        Path vmDir = initial.vmDir();
        String bootArgs = bootArgs(spec);
        // Firecracker binds both sockets itself and refuses paths that exist.
        DirectoryTree.deleteFilesQuietly(initial.controlSocket(), initial.agentSocket(), vmDir.resolve(PID_FILE));
        if (!restore) {
            DirectoryTree.deleteFilesQuietly(initial.serialLog());
        }
        Path kernel = restore ? null : VmlinuxExtractor.ensure(spec.image().kernel(), vmlinuxCache(spec.image().kernel(), vmDir));
        List<AttachedDrive> attached = drives.prepare(restore ? VmDrives.withWorkloadDriveIfAttached(spec, vmDir)
                : VmDrives.withWorkloadDrive(spec), vmDir);
        Optional<VmCgroup> group = cgroups.create(VmCgroup.groupName(initial.name(), initial.vmDir()), spec.vcpus(), spec.memoryMib());
        VmHandle handle = new VmHandle(initial.schemaVersion(), initial.name(), initial.backend(), Accelerator.KVM,
                restore ? InstanceState.WAKING : InstanceState.CREATING, null, 0, 0, vmDir, initial.controlSocket(),
                initial.agentSocket(), initial.serialLog(), initial.snapshot(),
                group.map(VmCgroup::encode).orElse(null), initial.ip(), clock.instant());
        journal.record(handle);
        VmmProcess process = null;
        try {
            process = launcher.launch(new FirecrackerLauncher.Launch(
                    List.of(settings.binary(), "--api-sock", handle.controlSocket().toString(), "--id", handle.name()),
                    vmDir, handle.controlSocket(), handle.serialLog(), vmDir.resolve(PID_FILE),
                    group.map(VmCgroup::procsFiles).orElse(List.of()), settings.bootTimeout()));
            handle = handle.withProcess(process, clock.instant());
            journal.record(handle);
            FirecrackerApiClient api = api(handle);
            if (restore) {
                api.send(new FirecrackerCall.LoadSnapshot(new SnapshotLoadParams(handle.snapshot().toString(),
                        new MemoryBackend("File", memoryFile(handle.snapshot()).toString()), true)));
            } else {
                configureAndBoot(api, spec, kernel, bootArgs, attached, handle);
            }
            waitForAgent(handle, process);
            handle = handle.withState(InstanceState.RUNNING, null, clock.instant());
            journal.record(handle);
            LOG.info("VM {} running under Firecracker (pid {})", handle.name(), process.pid());
            return handle;
        } catch (RuntimeException e) {
            if (process != null) {
                process.killAndAwait();
            }
            group.ifPresent(cgroups::removeQuietly);
            DirectoryTree.deleteFilesQuietly(handle.controlSocket(), handle.agentSocket());
            String reason = e.getMessage() + "\n--- last console lines ---\n" + SerialLog.tail(handle.serialLog(), SERIAL_TAIL_LINES);
            journal.record(new VmHandle(handle.schemaVersion(), handle.name(), handle.backend(), handle.accelerator(),
                    InstanceState.FAILED, reason, 0, 0, vmDir, handle.controlSocket(), handle.agentSocket(),
                    handle.serialLog(), handle.snapshot(), null, handle.ip(), clock.instant()));
            ErrorCategory category = e instanceof MvmException mvm ? mvm.category() : ErrorCategory.INTERNAL;
            throw new MvmException(category, "VM " + initial.name() + " did not start: " + reason, e);
        }
    }

    /**
     * One extracted kernel per image, next to its bzImage (written atomically, so concurrent starts
     * are safe); only where the image directory is read-only does each VM get its own copy.
     */
    static Path vmlinuxCache(Path bzImage, Path vmDir) {
        Path imageDir = bzImage.toAbsolutePath().getParent();
        // Named after the bzImage, so it can never be the bzImage itself.
        String name = bzImage.getFileName() + VMLINUX_SUFFIX;
        return imageDir != null && Files.isWritable(imageDir) ? imageDir.resolve(name) : vmDir.resolve(name);
    }

    private static void configureAndBoot(FirecrackerApiClient api, VmSpec spec, Path kernel, String bootArgs,
                                         List<AttachedDrive> attached, VmHandle handle) {
        api.send(new FirecrackerCall.PutMachineConfig(new MachineConfiguration(spec.vcpus(), spec.memoryMib(), false, false)));
        api.send(new FirecrackerCall.PutBootSource(new BootSource(kernel.toAbsolutePath().toString(),
                spec.image().initramfs().toAbsolutePath().toString(), bootArgs)));
        // The initramfs mounts the root by its ext4 label, so no drive is Firecracker's "root device"
        // (that would add root=/dev/vda to the command line).
        for (AttachedDrive drive : attached) {
            api.send(new FirecrackerCall.PutDrive(new Drive(drive.id(), drive.file().toAbsolutePath().toString(),
                    false, drive.readOnly())));
        }
        spec.nic().ifPresent(nic -> api.send(new FirecrackerCall.PutNetworkInterface(
                new NetworkInterface("eth0", nic.tap(), nic.mac()))));
        api.send(new FirecrackerCall.PutVsock(new Vsock(GUEST_CID, handle.agentSocket().toAbsolutePath().toString())));
        api.send(new FirecrackerCall.StartInstance());
    }

    private void waitForAgent(VmHandle handle, VmmProcess process) {
        long deadline = System.nanoTime() + settings.bootTimeout().toNanos();
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new MvmException(ErrorCategory.UNAVAILABLE, "the VMM exited while the guest was booting");
            }
            try (GuestChannel channel = agents.connect(handle.agentSocket())) {
                channel.health(Duration.ofSeconds(5));
                return;
            } catch (RuntimeException e) {
                last = e;
                Polling.pause(Duration.ofMillis(200));
            }
        }
        throw new MvmException(ErrorCategory.UNAVAILABLE, "the guest agent did not answer over vsock within "
                + settings.bootTimeout() + (last == null ? "" : ": " + last.getMessage()));
    }

    // ---------------------------------------------------------------- recover

    @Override
    public VmHandle recover(VmHandle handle, HandleJournal journal) {
        requireOwn(handle);
        VmHandle observed = switch (handle.state()) {
            case SLEEPING -> handle.snapshot() != null && Files.isRegularFile(handle.snapshot())
                    && Files.isRegularFile(memoryFile(handle.snapshot())) ? handle
                    : handle.withState(InstanceState.FAILED, "snapshot files of " + handle.snapshot() + " are missing", clock.instant());
            case STOPPED, FAILED, DESTROYED -> handle;
            default -> observeLive(handle);
        };
        if (!observed.equals(handle) && observed.state() != InstanceState.UNKNOWN) {
            // UNKNOWN is an observation, not a state to keep: the handle keeps the last known one.
            journal.record(observed);
        }
        return observed;
    }

    private VmHandle observeLive(VmHandle handle) {
        VmmProcess process = handle.process();
        if (process == null || !process.isAlive()) {
            silence.reset(handle.vmDir());
            cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
            return handle.withState(InstanceState.FAILED, "the VMM process " + handle.pid()
                            + " is gone (it exited or was killed)\n--- last console lines ---\n"
                            + SerialLog.tail(handle.serialLog(), SERIAL_TAIL_LINES), clock.instant())
                    .withProcess(null, clock.instant());
        }
        String state;
        try {
            state = api(handle).instanceState();
        } catch (MvmException e) {
            return silence.unanswered(handle, e);
        }
        silence.reset(handle.vmDir());
        return switch (state) {
            case "Running" -> handle.state() == InstanceState.RUNNING ? handle
                    : handle.withState(InstanceState.RUNNING, null, clock.instant());
            case "Paused" -> handle.state() == InstanceState.WARM ? handle
                    : handle.withState(InstanceState.WARM, null, clock.instant());
            default -> handle.withState(InstanceState.FAILED, "Firecracker reports state '" + state + "'", clock.instant());
        };
    }

    // ---------------------------------------------------------------- pause / resume

    @Override
    public VmHandle pause(VmHandle handle, HandleJournal journal) {
        requireOwn(handle);
        handle.requireState("pause", InstanceState.RUNNING, InstanceState.WARM);
        handle.requireLiveProcess();
        api(handle).send(new FirecrackerCall.PauseVm());
        VmHandle next = handle.withState(InstanceState.WARM, null, clock.instant());
        journal.record(next);
        return next;
    }

    @Override
    public VmHandle resume(VmHandle handle, HandleJournal journal) {
        requireOwn(handle);
        handle.requireState("resume", InstanceState.WARM, InstanceState.RUNNING);
        handle.requireLiveProcess();
        api(handle).send(new FirecrackerCall.ResumeVm());
        VmHandle next = handle.withState(InstanceState.RUNNING, null, clock.instant());
        journal.record(next);
        return next;
    }

    // ---------------------------------------------------------------- sleep / wake

    @Override
    public VmHandle sleep(VmHandle handle, Duration drainDeadline, HandleJournal journal) {
        requireOwn(handle);
        handle.requireState("sleep", InstanceState.RUNNING, InstanceState.WARM);
        VmmProcess process = handle.requireLiveProcess();
        // A zero deadline suspends the guest as it is, workload untouched (scale to zero).
        if (handle.state() == InstanceState.RUNNING && !drainDeadline.isZero()) {
            try (GuestChannel channel = agents.connect(handle.agentSocket())) {
                GuestChannel.DrainResult drained = channel.drain(drainDeadline);
                LOG.info("VM {} drained (completed={}, took {})", handle.name(), drained.completed(), drained.took());
            } catch (RuntimeException e) {
                LOG.warn("VM {}: drain failed, snapshotting anyway: {}", handle.name(), e.getMessage());
            }
        }
        journal.record(handle.withState(InstanceState.SNAPSHOTTING, null, clock.instant()));
        Path state = handle.vmDir().resolve(SNAPSHOT_STATE);
        Path memory = handle.vmDir().resolve(SNAPSHOT_MEMORY);
        Path partialState = partial(state);
        Path partialMemory = partial(memory);
        FirecrackerApiClient api = api(handle);
        try {
            DirectoryTree.deleteFilesQuietly(partialState, partialMemory);
            // The memory file holds guest memory, secrets included: owner-only before a byte is written.
            for (Path file : List.of(partialState, partialMemory)) {
                Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            }
            api.send(new FirecrackerCall.PauseVm()); // Firecracker snapshots only a paused VM
            api.send(new FirecrackerCall.CreateSnapshot(new SnapshotCreateParams("Full",
                    partialState.toAbsolutePath().toString(), partialMemory.toAbsolutePath().toString())));
            Files.move(partialMemory, memory, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            Files.move(partialState, state, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | RuntimeException e) {
            DirectoryTree.deleteFilesQuietly(partialState, partialMemory);
            // The VM is paused (or still running) but intact: leave it warm so nothing is lost.
            journal.record(handle.withState(InstanceState.WARM, "sleep failed: " + e.getMessage(), clock.instant()));
            if (e instanceof MvmException mvm) {
                throw mvm;
            }
            throw new MvmException(ErrorCategory.INTERNAL, "cannot snapshot " + handle.name() + ": " + e.getMessage(), e);
        }
        // Firecracker has no "quit": the snapshot is complete, so the paused VMM is simply ended.
        process.killAndAwait();
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        DirectoryTree.deleteFilesQuietly(handle.controlSocket(), handle.agentSocket(), handle.vmDir().resolve(PID_FILE));
        VmHandle sleeping = new VmHandle(handle.schemaVersion(), handle.name(), handle.backend(), handle.accelerator(),
                InstanceState.SLEEPING, null, 0, 0, handle.vmDir(), handle.controlSocket(), handle.agentSocket(),
                handle.serialLog(), state, null, handle.ip(), clock.instant());
        journal.record(sleeping);
        return sleeping;
    }

    @Override
    public VmHandle wake(VmSpec spec, VmHandle handle, HandleJournal journal) {
        requireOwn(handle);
        handle.requireState("wake", InstanceState.SLEEPING);
        if (handle.snapshot() == null || !Files.isRegularFile(handle.snapshot()) || !Files.isRegularFile(memoryFile(handle.snapshot()))) {
            throw MvmException.precondition("VM " + handle.name() + " has no complete snapshot at " + handle.snapshot());
        }
        VmHandle running = launchAndWait(spec, handle, true, journal);
        try (GuestChannel channel = agents.connect(running.agentSocket())) {
            channel.reloadSecrets(settings.controlTimeout());
        }
        DirectoryTree.deleteFilesQuietly(handle.snapshot(), memoryFile(handle.snapshot()));
        VmHandle awake = running.withSnapshot(null, clock.instant());
        journal.record(awake);
        return awake;
    }

    static Path memoryFile(Path snapshotState) {
        return snapshotState.resolveSibling(SNAPSHOT_MEMORY);
    }

    private static Path partial(Path file) {
        return file.resolveSibling(file.getFileName() + ".partial");
    }

    // ---------------------------------------------------------------- stop / destroy

    @Override
    public VmHandle stop(VmHandle handle, Duration grace, HandleJournal journal) {
        requireOwn(handle);
        VmmProcess process = handle.process();
        if (process != null && process.isAlive()) {
            journal.record(handle.withState(InstanceState.STOPPING, null, clock.instant()));
            shutDown(handle, process, grace);
        }
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        DirectoryTree.deleteFilesQuietly(handle.controlSocket(), handle.agentSocket(), handle.vmDir().resolve(PID_FILE));
        if (handle.snapshot() != null) {
            DirectoryTree.deleteFilesQuietly(handle.snapshot(), memoryFile(handle.snapshot()));
        }
        VmHandle stopped = new VmHandle(handle.schemaVersion(), handle.name(), handle.backend(), handle.accelerator(),
                InstanceState.STOPPED, null, 0, 0, handle.vmDir(), handle.controlSocket(), handle.agentSocket(),
                handle.serialLog(), null, null, handle.ip(), clock.instant());
        journal.record(stopped);
        return stopped;
    }

    /** Agent {@code sync} + {@code reboot -f} (with reboot=k the VMM exits), then Ctrl+Alt+Del, then SIGKILL. */
    private void shutDown(VmHandle handle, VmmProcess process, Duration grace) {
        try {
            if (handle.state() == InstanceState.WARM) {
                api(handle).send(new FirecrackerCall.ResumeVm());
            }
            try (GuestChannel channel = agents.connect(handle.agentSocket())) {
                channel.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(10), "sync"));
                try {
                    channel.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(2), "reboot", "-f"));
                } catch (RuntimeException e) {
                    // Expected: the VMM exits before the agent can answer.
                }
            }
            if (process.awaitExit(grace)) {
                return;
            }
        } catch (RuntimeException e) {
            LOG.info("VM {}: graceful stop through the guest agent failed ({}), sending Ctrl+Alt+Del", handle.name(), e.getMessage());
        }
        try {
            api(handle).send(new FirecrackerCall.SendCtrlAltDel());
        } catch (RuntimeException e) {
            LOG.debug("SendCtrlAltDel: {}", e.getMessage());
        }
        if (!process.awaitExit(Duration.ofSeconds(10))) {
            process.killAndAwait();
        }
    }

    @Override
    public void destroy(VmHandle handle) {
        requireOwn(handle);
        VmmProcess process = handle.process();
        if (process != null) {
            process.killAndAwait();
        }
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        DirectoryTree.delete(handle.vmDir());
    }

    @Override
    public GuestChannel guestChannel(VmHandle handle) {
        requireOwn(handle);
        handle.requireState("talk to the guest of", InstanceState.RUNNING);
        handle.requireLiveProcess();
        return agents.connect(handle.agentSocket());
    }

    // ---------------------------------------------------------------- helpers

    private FirecrackerApiClient api(VmHandle handle) {
        return new FirecrackerApiClient(handle.controlSocket(), settings.controlTimeout());
    }

    /**
     * A handle written by another backend (a QEMU VM in the same data dir) must not be driven
     * through this API: its control socket speaks QMP, and a failed probe would mark it FAILED.
     */
    private void requireOwn(VmHandle handle) {
        if (!name().equals(handle.backend())) {
            throw MvmException.precondition("VM " + handle.name() + " runs under the " + handle.backend()
                    + " backend, not " + name() + ": use --backend " + handle.backend());
        }
    }
}
