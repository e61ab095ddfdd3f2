package io.mvm.runtime.qemu;

import com.fasterxml.jackson.databind.JsonNode;
import io.mvm.core.shell.ShellWords;
import io.mvm.model.Accelerator;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.Capabilities;
import io.mvm.runtime.backend.Claimable;
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
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.GuestIdentity;
import io.mvm.runtime.guest.GuestRefusedException;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.runtime.snapshot.MemorySharing;
import java.security.SecureRandom;
import java.util.random.RandomGenerator;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * QEMU {@code microvm} driven over QMP. Each VMM is launched with {@code -daemonize}: QEMU reports
 * start-up errors through its exit status, then runs in its own session, so this JVM (or the agent
 * around it) can exit without taking VMs down. Every state change is journalled before returning.
 */
public final class QemuBackend implements HypervisorBackend, Pausable, Snapshottable, MemorySharing, Claimable {
    private static final Logger LOG = LoggerFactory.getLogger(QemuBackend.class);
    private static final int SERIAL_TAIL_LINES = 15;

    /** In {@code vmm/}, the one directory a sandboxed VMM may write to ({@link VmmJail}). */
    static final String QMP_SOCKET = VmmJail.RUN_DIR + "/qmp.sock";
    static final String AGENT_SOCKET = VmmJail.RUN_DIR + "/agent.sock";
    static final String SERIAL_LOG = "serial.log";
    static final String PID_FILE = VmmJail.RUN_DIR + "/qemu.pid";
    static final String VMM_LOG = "qemu.log";
    static final String SNAPSHOT = "snapshot.bin";
    /** A snapshot whose guest has resumed, renamed away until its (slow) unlink is done. */
    static final String DISCARDED_SNAPSHOT = "snapshot.bin.discard";

    /**
     * @param bootTimeout from launch to a healthy guest agent (TCG under load needs generous values)
     * @param controlTimeout for single QMP commands and short guest calls
     * @param monitorDeadline how long the QMP monitor of a live VMM may stay silent before the VM
     *                        is observed FAILED; until then an unanswered status query is UNKNOWN
     *                        (a busy host, a VMM stopped for a moment), never a reason to act
     * @param sandbox         which user ids VMMs run as (docs/security.md); seccomp is always on
     */
    public record Settings(String binary, Accelerator accelerator, String acceleratorReason,
                           Duration bootTimeout, Duration controlTimeout, Duration monitorDeadline, VmmSandbox sandbox) {
        public static final Duration DEFAULT_MONITOR_DEADLINE = Duration.ofSeconds(60);

        public Settings {
            if (monitorDeadline == null || monitorDeadline.isNegative() || monitorDeadline.isZero()) {
                throw MvmException.invalid("the QMP monitor deadline must be positive, got " + monitorDeadline);
            }
            if (sandbox == null) {
                throw MvmException.invalid("the VMM sandbox settings are missing");
            }
        }

        public Settings(String binary, Accelerator accelerator, String acceleratorReason, Duration bootTimeout,
                        Duration controlTimeout, Duration monitorDeadline) {
            this(binary, accelerator, acceleratorReason, bootTimeout, controlTimeout, monitorDeadline, VmmSandbox.defaults());
        }

        public Settings(String binary, Accelerator accelerator, String acceleratorReason, Duration bootTimeout,
                        Duration controlTimeout) {
            this(binary, accelerator, acceleratorReason, bootTimeout, controlTimeout, DEFAULT_MONITOR_DEADLINE);
        }

        public static Settings defaults(Accelerator accelerator, String reason) {
            return new Settings("qemu-system-x86_64", accelerator, reason, Duration.ofSeconds(120), Duration.ofSeconds(30));
        }

        public Settings withMonitorDeadline(Duration deadline) {
            return new Settings(binary, accelerator, acceleratorReason, bootTimeout, controlTimeout, deadline, sandbox);
        }

        public Settings withControlTimeout(Duration timeout) {
            return new Settings(binary, accelerator, acceleratorReason, bootTimeout, timeout, monitorDeadline, sandbox);
        }

        public Settings withSandbox(VmmSandbox value) {
            return new Settings(binary, accelerator, acceleratorReason, bootTimeout, controlTimeout, monitorDeadline, value);
        }
    }

    private final Settings settings;
    private final VmDrives drives;
    private final CgroupLimits cgroups;
    private final AgentConnector agents;
    private final InstantSource clock;
    /** An unanswered status query is UNKNOWN until {@link Settings#monitorDeadline()}. */
    private final ControlSilence silence;
    /** Fresh entropy for restored guests (every wake and clone): see {@link GuestIdentity}. */
    private final RandomGenerator random;
    private final QemuClones clones;
    private final QemuClaims claims;
    private final VmmJail jail;
    private final QmpMigration migration;

    public QemuBackend(Settings settings, VmDrives drives, CgroupLimits cgroups, AgentConnector agents, InstantSource clock) {
        this(settings, drives, cgroups, agents, clock, new SecureRandom());
    }

    public QemuBackend(Settings settings, VmDrives drives, CgroupLimits cgroups, AgentConnector agents, InstantSource clock,
                       RandomGenerator random) {
        this.settings = settings;
        this.drives = drives;
        this.cgroups = cgroups;
        this.agents = agents;
        this.clock = clock;
        this.silence = new ControlSilence("QMP monitor", settings.monitorDeadline(), clock);
        this.random = random;
        this.jail = new VmmJail(settings.sandbox());
        this.migration = new QmpMigration(settings, agents);
        this.clones = new QemuClones(this, settings, drives, cgroups, agents, clock, random);
        this.claims = new QemuClaims(this, settings, drives, agents, clock);
    }

    @Override
    public String name() {
        return "qemu";
    }

    @Override
    public Capabilities capabilities() {
        return new Capabilities(true, true, Capabilities.GuestChannelKind.VIRTIO_SERIAL, false, false,
                Set.of(Accelerator.TCG, Accelerator.KVM));
    }

    @Override
    public Fingerprint fingerprint() {
        return new Fingerprint(name(), QemuVersion.of(settings.binary()), settings.accelerator(), settings.acceleratorReason());
    }

    public Settings settings() {
        return settings;
    }

    VmmJail vmmJail() {
        return jail;
    }

    @Override
    public void validate(VmSpec spec) {
        new QemuLaunch(settings.binary(), settings.accelerator(), spec.vcpus(), spec.memoryMib(), spec.image().kernel(),
                spec.image().initramfs(), spec.image().bootArgs(), spec.name().value(), spec.nic(), List.of(), Path.of("serial.log"), Path.of("qmp.sock"), Path.of("agent.sock"),
                Path.of("qemu.pid"), Optional.empty()).kernelCommandLine();
    }

    // ---------------------------------------------------------------- start

    @Override
    public VmHandle start(VmSpec spec, Path vmDir, HandleJournal journal) {
        LaunchPhases phases = new LaunchPhases();
        VmHandle handle = new VmHandle(VmHandle.SCHEMA_VERSION, spec.name().value(), name(), settings.accelerator(),
                InstanceState.CREATING, null, 0, 0, vmDir, vmDir.resolve(QMP_SOCKET), vmDir.resolve(AGENT_SOCKET),
                vmDir.resolve(SERIAL_LOG), null, null, spec.nic().map(n -> n.ipv4()).orElse(null), clock.instant(),
                ImageDigests.recorded(spec.image(), clock.instant()));
        return launchAndWait(spec, handle, Optional.empty(), journal, phases);
    }

    private VmHandle launchAndWait(VmSpec given, VmHandle initial, Optional<Path> snapshot, HandleJournal journal,
                                   LaunchPhases phases) {
        Path vmDir = initial.vmDir();
        // The workload rides on the config drive; a restore attaches exactly the drives it was started with.
        VmSpec spec = snapshot.isEmpty() ? VmDrives.withWorkloadDrive(given) : VmDrives.withWorkloadDriveIfAttached(given, vmDir);
        validate(spec);
        // Never two VMMs on one VM directory: a VMM launched by a runtime that crashed before it could
        // journal the pid may still be running on these drives.
        OrphanedVmm.find(vmDir, QMP_SOCKET, PID_FILE).ifPresent(orphan -> {
            LOG.warn("VM {}: killing VMM pid {} left running on its directory before launching another", initial.name(), orphan.pid());
            orphan.killAndAwait();
        });
        clearRunDir(vmDir);
        if (snapshot.isEmpty()) {
            DirectoryTree.deleteFilesQuietly(vmDir.resolve(SERIAL_LOG));
        }
        DirectoryTree.deleteFilesQuietly(vmDir.resolve(DISCARDED_SNAPSHOT)); // left by a runtime that died mid-wake
        phases.lap("checks");
        List<AttachedDrive> attached = drives.prepare(spec, vmDir);
        phases.lap("drives");
        // A snapshot only restores under the accelerator it was taken with.
        Accelerator accelerator = snapshot.isPresent() && initial.accelerator() != null ? initial.accelerator() : settings.accelerator();
        QemuLaunch launch = new QemuLaunch(settings.binary(), accelerator, spec.vcpus(), spec.memoryMib(),
                spec.image().kernel(), spec.image().initramfs(), spec.image().bootArgs(), spec.name().value(),
                spec.nic(), attached, initial.serialLog(), vmDir.resolve(QMP_SOCKET),
                vmDir.resolve(AGENT_SOCKET), vmDir.resolve(PID_FILE), snapshot);
        List<String> arguments = launch.arguments(); // validates the kernel command line before anything runs
        if (snapshot.isEmpty()) {
            arguments = clones.coldBootArguments(arguments, spec.memoryMib(), vmDir); // RAM in a file, if it has one
        }
        Optional<VmmJail.VmmUser> user = jail(vmDir, attached, spec,
                snapshot.isEmpty() ? MemoryBacking.read(vmDir).filter(MemoryBacking::shared) : Optional.empty(), accelerator);
        phases.lap("sandbox");
        Optional<VmCgroup> group = cgroups.create(VmCgroup.groupName(initial.name(), initial.vmDir()), spec.vcpus(), spec.memoryMib());
        VmHandle handle = new VmHandle(initial.schemaVersion(), initial.name(), initial.backend(), accelerator,
                snapshot.isPresent() ? InstanceState.WAKING : InstanceState.CREATING, null, 0, 0, vmDir,
                // Sockets where this VMM puts them (vmm/), also for a VM that slept under an older runtime.
                vmDir.resolve(QMP_SOCKET), vmDir.resolve(AGENT_SOCKET), initial.serialLog(), initial.snapshot(),
                group.map(VmCgroup::encode).orElse(null), initial.ip(), clock.instant(), initial.imageDigests());
        journal.record(handle);
        phases.lap("cgroup+journal");
        VmmProcess process = null;
        boolean guestResumed = false;
        try {
            process = launch(arguments, vmDir, group, user);
            handle = handle.withProcess(process, clock.instant()).withVmmUid(user.map(VmmJail.VmmUser::uid).orElse(0), clock.instant());
            journal.record(handle);
            phases.lap("launch");
            if (snapshot.isPresent()) {
                migration.restore(handle, snapshot.get(), false);
                phases.lap("restore");
                guestResumed = true;
                handle = discardSnapshot(handle, snapshot.get(), journal);
                Thread unlink = Thread.ofVirtual().name("unlink-snapshot-" + handle.name())
                        .start(() -> DirectoryTree.deleteFilesQuietly(vmDir.resolve(DISCARDED_SNAPSHOT)));
                try {
                    // The secrets drive was rebuilt before the restore: the guest's first answer after
                    // waking is the one that remounts it, saving a separate health round trip (retrying
                    // it is harmless, it only re-reads the drive). It gets the full control timeout:
                    // unlike health, a remount after a restore can take seconds under TCG and load,
                    // and abandoning it for a new attempt only queues more work in the guest.
                    // Then the woken guest learns the time and gets fresh entropy (and a generation bump),
                    // since it resumes with the clock and RNG state of the moment it slept.
                    GuestIdentity identity = GuestIdentity.afterWake(clock.instant(), random);
                    waitForAgent(handle, process, false, phases, channel -> {
                        channel.reloadSecrets(settings.controlTimeout());
                        channel.applyIdentity(identity, settings.controlTimeout());
                    });
                } finally {
                    awaitQuietly(unlink);
                }
            } else {
                waitForAgent(handle, process, true, phases, channel -> channel.health(Duration.ofSeconds(5)));
            }
            handle = handle.withState(InstanceState.RUNNING, null, clock.instant());
            journal.record(handle);
            phases.lap("journal");
            LOG.info("VM {} {} in {} ms (pid {}, accel {}; {})", handle.name(), snapshot.isPresent() ? "awake" : "running",
                    phases.totalMillis(), process.pid(), accelerator, phases.summary());
            return handle;
        } catch (RuntimeException e) {
            if (guestResumed && process != null && process.isAlive()) {
                return failedKeepingTheGuest(handle, e, journal);
            }
            if (process != null) {
                process.killAndAwait();
            }
            group.ifPresent(cgroups::removeQuietly);
            String reason = e.getMessage() + "\n--- last serial lines ---\n" + SerialLog.tail(handle.serialLog(), SERIAL_TAIL_LINES);
            VmHandle failed = handle.withProcess(null, clock.instant())
                    .withState(InstanceState.FAILED, reason, clock.instant());
            journal.record(new VmHandle(failed.schemaVersion(), failed.name(), failed.backend(), failed.accelerator(),
                    failed.state(), failed.stateReason(), 0, 0, failed.vmDir(), failed.controlSocket(),
                    failed.agentSocket(), failed.serialLog(), failed.snapshot(), null, failed.ip(), failed.updatedAt(),
                    failed.imageDigests()));
            // One line for people; the full serial tail is in the handle (mvm vm list --json) and the log.
            String summary = "VM " + initial.name() + " did not start: " + e.getMessage() + " (last console line: "
                    + SerialLog.tail(handle.serialLog(), 1) + "; see " + handle.serialLog() + ")";
            ErrorCategory category = e instanceof MvmException mvm ? mvm.category() : ErrorCategory.INTERNAL;
            throw new MvmException(category, summary, e);
        }
    }

    /**
     * A woken guest that runs but failed its first call (e.g. the secrets could not be remounted, or
     * the agent stayed silent past the deadline): its snapshot is gone, so its memory exists only in
     * this VMM. Killing it would lose the sleeping VM's state; it is kept running and recorded as
     * FAILED with its process, which {@code start} stops before a cold boot and {@code destroy} kills.
     */
    private VmHandle failedKeepingTheGuest(VmHandle handle, RuntimeException e, HandleJournal journal) {
        VmHandle failed = handle.withState(InstanceState.FAILED, "woke, but the guest's first call failed: "
                + e.getMessage() + " (the VMM keeps running; stop and start the VM to cold-boot)", clock.instant());
        journal.record(failed);
        LOG.warn("VM {}: woke but the guest's first call failed, keeping its VMM (pid {}): {}", handle.name(),
                handle.pid(), e.getMessage());
        ErrorCategory category = e instanceof MvmException mvm ? mvm.category() : ErrorCategory.INTERNAL;
        throw new MvmException(category, "VM " + handle.name() + " woke but its guest did not answer as expected: "
                + e.getMessage() + "; it is FAILED with its VMM still running (stop and start it to cold-boot)", e);
    }

    /**
     * Once the restored guest runs, it writes to its drives, and its snapshot describes memory that
     * no longer matches them: restoring it again would corrupt the guest's filesystems. So it is
     * renamed away (instant) and the handle forgets it before anything else happens; the unlink
     * itself (~120 ms for 90 MB on ext4) runs while the guest answers its first call.
     */
    private VmHandle discardSnapshot(VmHandle handle, Path snapshot, HandleJournal journal) {
        try {
            Files.move(snapshot, handle.vmDir().resolve(DISCARDED_SNAPSHOT), StandardCopyOption.ATOMIC_MOVE,
                    StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            DirectoryTree.deleteFilesQuietly(snapshot);
        }
        VmHandle forgotten = handle.withSnapshot(null, clock.instant());
        journal.record(forgotten);
        return forgotten;
    }

    /** {@link #discardSnapshot} for recovery, which journals the whole observation itself. */
    private VmHandle forgetSnapshot(VmHandle handle) {
        DirectoryTree.deleteFilesQuietly(handle.snapshot(), handle.vmDir().resolve(DISCARDED_SNAPSHOT));
        return handle.withSnapshot(null, clock.instant());
    }

    private static void awaitQuietly(Thread thread) {
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Makes the VM's files its VMM's own and returns the user it runs as ({@link VmmJail}); empty
     * when the sandbox is disabled. {@code ram} is the RAM file backing on the command line, if any.
     */
    Optional<VmmJail.VmmUser> jail(Path vmDir, List<AttachedDrive> attached, VmSpec spec, Optional<MemoryBacking> ram,
                                   Accelerator accelerator) {
        return jail.prepare(vmDir, attached, List.of(spec.image().kernel(), spec.image().initramfs()),
                vmDir.resolve(SERIAL_LOG),
                ram.filter(MemoryBacking::shared).map(MemoryBacking::file),
                ram.filter(b -> !b.shared()).map(MemoryBacking::file), spec.nic(), accelerator == Accelerator.KVM);
    }

    /** Sockets and the pid file of an earlier VMM: QEMU refuses to bind over a stale socket. */
    static void clearRunDir(Path vmDir) {
        Path run = VmmJail.runDir(vmDir);
        DirectoryTree.deleteFilesQuietly(run.resolve("qmp.sock"), run.resolve("agent.sock"), run.resolve("qemu.pid"),
                run.resolve(MigrationStream.INCOMING), run.resolve(MigrationStream.OUTGOING));
    }

    /**
     * Starts QEMU through a tiny shell that first joins the VM's cgroups, so every thread and every
     * byte QEMU allocates is accounted there from the start, then detaches it into a session of its
     * own ({@code setsid}, in the background) as the VMM's user ({@code setpriv}: no capabilities,
     * no new privileges). QEMU's {@code -daemonize} cannot be used: it forks and calls setsid after
     * the seccomp filter is in place. So start-up errors are told by QEMU exiting before its
     * monitor answers (it does only once initialisation, drives and devices included, is done).
     */
    VmmProcess launch(List<String> arguments, Path vmDir, Optional<VmCgroup> group, Optional<VmmJail.VmmUser> user) {
        Path log = vmDir.resolve(VMM_LOG);
        StringBuilder script = new StringBuilder();
        group.ifPresent(g -> g.procsFiles().forEach(f ->
                script.append("echo $$ > ").append(ShellWords.quote(f.toString())).append(" || exit 97; ")));
        script.append("setsid \"$@\" </dev/null >>").append(ShellWords.quote(log.toString())).append(" 2>&1 & echo $!");
        List<String> command = new ArrayList<>(List.of("/bin/sh", "-c", script.toString(), "mvm-vmm"));
        user.ifPresent(u -> command.addAll(u.launcherPrefix()));
        command.addAll(arguments);
        long deadline = System.nanoTime() + settings.bootTimeout().toNanos();
        try {
            Process launcher = new ProcessBuilder(command)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
            String printed = new String(launcher.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
            if (!launcher.waitFor(settings.controlTimeout().toSeconds(), TimeUnit.SECONDS) || launcher.exitValue() != 0
                    || printed.isEmpty()) {
                launcher.destroyForcibly();
                throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cannot launch QEMU (launcher exit "
                        + (launcher.isAlive() ? "none" : launcher.exitValue()) + "): " + lastLines(log, 5));
            }
            long pid = Long.parseLong(printed);
            VmmProcess process = VmmProcess.of(pid).orElseThrow(() -> new MvmException(ErrorCategory.FAILED_PRECONDITION,
                    "QEMU failed to start: " + lastLines(log, 5)));
            Path qmpSocket = vmDir.resolve(QMP_SOCKET);
            while (true) {
                if (!process.isAlive()) {
                    throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "QEMU failed to start: " + lastLines(log, 5));
                }
                if (Files.exists(qmpSocket)) {
                    try (QmpClient qmp = QmpClient.connect(qmpSocket, Duration.ofSeconds(1))) {
                        return process;
                    } catch (MvmException e) {
                        // not greeting yet: still initialising
                    }
                }
                if (System.nanoTime() > deadline) {
                    process.killAndAwait();
                    throw new MvmException(ErrorCategory.UNAVAILABLE, "QEMU did not finish initialising within " + settings.bootTimeout());
                }
                Polling.pause(Duration.ofMillis(5));
            }
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot launch QEMU: " + e.getMessage(), e);
        } catch (NumberFormatException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot launch QEMU: the launcher printed no pid", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted while launching QEMU", e);
        }
    }

    private static String lastLines(Path file, int n) {
        try {
            List<String> lines = Files.readAllLines(file);
            return String.join(" | ", lines.subList(Math.max(0, lines.size() - n), lines.size())).strip();
        } catch (IOException e) {
            return "(no output)";
        }
    }

    void waitForAgent(VmHandle handle, VmmProcess process, boolean coldBoot, LaunchPhases phases,
                              java.util.function.Consumer<GuestChannel> firstCall) {
        long deadline = System.nanoTime() + settings.bootTimeout().toNanos();
        SerialLog serial = new SerialLog(handle.serialLog());
        SerialLog failures = new SerialLog(handle.serialLog());
        boolean ready = !coldBoot;
        RuntimeException last = null;
        while (System.nanoTime() < deadline) {
            if (coldBoot && failures.contains(SerialLog.BOOT_FAILED_MARKER)) {
                throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "the guest could not boot: "
                        + SerialLog.lastLineContaining(handle.serialLog(), SerialLog.BOOT_FAILED_MARKER));
            }
            if (!process.isAlive()) {
                throw new MvmException(ErrorCategory.UNAVAILABLE, "the VMM exited while the guest was booting");
            }
            if (!ready) {
                ready = serial.contains(SerialLog.GUEST_READY_MARKER);
                if (!ready) {
                    Polling.pause(Duration.ofMillis(10));
                    continue;
                }
                phases.lap("guest boot");
            }
            try (GuestChannel channel = agents.connect(handle.agentSocket())) {
                firstCall.accept(channel);
                phases.lap("agent");
                return;
            } catch (GuestRefusedException e) {
                throw new MvmException(ErrorCategory.FAILED_PRECONDITION, e.getMessage(), e);
            } catch (RuntimeException e) {
                last = e;
                Polling.pause(Duration.ofMillis(200));
            }
        }
        throw new MvmException(ErrorCategory.UNAVAILABLE, "the guest agent did not become healthy within "
                + settings.bootTimeout() + (last == null ? " (no " + SerialLog.GUEST_READY_MARKER + " on the console)"
                : ": " + last.getMessage()));
    }

    // ---------------------------------------------------------------- recover

    @Override
    public VmHandle recover(VmHandle handle, HandleJournal journal) {
        VmHandle observed = switch (handle.state()) {
            case SLEEPING -> handle.snapshot() != null && Files.isRegularFile(handle.snapshot()) ? handle
                    : handle.withState(InstanceState.FAILED, "snapshot file " + handle.snapshot() + " is missing", clock.instant());
            case STOPPED, FAILED, DESTROYED -> handle;
            case SNAPSHOTTING -> handle.snapshot() != null && Files.isRegularFile(handle.snapshot())
                    ? finishInterruptedSleep(handle) : observeLive(handle);
            case CREATING, WAKING -> handle.process() == null ? observeLaunchWindow(handle) : observeLive(handle);
            default -> observeLive(handle);
        };
        if (handle.state() == InstanceState.WAKING && observed.snapshot() != null
                && (observed.state() == InstanceState.RUNNING || observed.state() == InstanceState.WARM)) {
            // The runtime died after the restore let the guest run but before it discarded the
            // snapshot: the guest may have written to its drives since, so the snapshot must go.
            observed = forgetSnapshot(observed);
        }
        if (!observed.equals(handle) && observed.state() != InstanceState.UNKNOWN) {
            // UNKNOWN is an observation, not a state to keep: the handle keeps the last known one.
            journal.record(observed);
        }
        return observed;
    }

    /**
     * The runtime died between journalling CREATING/WAKING (pid 0) and journalling the launched pid.
     * QEMU may be running anyway: find it by its pid file, proven ours by its command line naming
     * this VM's directory, and adopt it if its monitor answers, else kill it.
     */
    private VmHandle observeLaunchWindow(VmHandle handle) {
        Optional<VmmProcess> orphan = OrphanedVmm.find(handle.vmDir(), QMP_SOCKET, PID_FILE);
        if (orphan.isEmpty()) {
            return observeLive(handle);
        }
        VmmProcess process = orphan.get();
        String status;
        try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
            status = qmp.execute("query-status", settings.controlTimeout()).path("status").asText();
        } catch (MvmException e) {
            status = "no answer (" + e.getMessage() + ")";
        }
        InstanceState adopted = switch (status) {
            case "running" -> InstanceState.RUNNING;
            case "paused" -> InstanceState.WARM;
            default -> null; // e.g. still "inmigrate": a half-restored wake is not a VM to keep
        };
        if (adopted != null) {
            LOG.info("VM {}: adopted VMM pid {} launched before the last runtime crashed", handle.name(), process.pid());
            return handle.withProcess(process, clock.instant()).withState(adopted, null, clock.instant())
                    .withVmmUid(VmmJail.uidOf(process.pid()).orElse(0), clock.instant());
        }
        process.killAndAwait();
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        return handle.withState(InstanceState.FAILED, "killed VMM pid " + process.pid()
                + " left by a crash during " + handle.state() + ": QEMU status " + status, clock.instant());
    }

    /** The snapshot file is only ever renamed into place once complete and synced: finish the sleep. */
    private VmHandle finishInterruptedSleep(VmHandle handle) {
        Optional.ofNullable(handle.process()).ifPresent(VmmProcess::killAndAwait);
        OrphanedVmm.find(handle.vmDir(), QMP_SOCKET, PID_FILE).ifPresent(VmmProcess::killAndAwait);
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        agents.forget(handle.agentSocket());
        DirectoryTree.deleteFilesQuietly(handle.controlSocket(), handle.agentSocket(), handle.vmDir().resolve(PID_FILE));
        return handle.withProcess(null, clock.instant()).withState(InstanceState.SLEEPING, null, clock.instant());
    }

    private VmHandle observeLive(VmHandle handle) {
        VmmProcess process = handle.process();
        if (process == null || !process.isAlive()
                || (handle.vmmUid() != 0 && VmmJail.uidOf(process.pid()).orElse(-1) != handle.vmmUid())) {
            // A sandboxed VMM runs as the user its handle records: any other owner is not ours.
            silence.reset(handle.vmDir());
            cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
            return handle.withState(InstanceState.FAILED, "the VMM process " + handle.pid()
                            + " is gone (it exited or was killed)\n--- last serial lines ---\n"
                            + SerialLog.tail(handle.serialLog(), SERIAL_TAIL_LINES), clock.instant())
                    .withProcess(null, clock.instant());
        }
        boundSerialLog(handle);
        String status;
        try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
            status = qmp.execute("query-status", settings.controlTimeout()).path("status").asText();
        } catch (MvmException e) {
            return silence.unanswered(handle, e);
        }
        silence.reset(handle.vmDir());
        return switch (status) {
            case "running" -> handle.state() == InstanceState.RUNNING ? handle
                    : handle.withState(InstanceState.RUNNING, null, clock.instant());
            case "paused" -> handle.state() == InstanceState.WARM ? handle
                    : handle.withState(InstanceState.WARM, null, clock.instant());
            default -> handle.withState(InstanceState.FAILED, "QEMU reports status '" + status + "'", clock.instant());
        };
    }

    /**
     * Every observation of a live VM (each agent report and resync) bounds its console log, so a
     * guest flooding its console cannot fill the node's disk: see {@link SerialLog#rotate}. Done
     * here, not by a thread of its own, because observation already runs for every live VM in
     * whichever process owns it now, including an agent that has just re-adopted the VM.
     */
    private void boundSerialLog(VmHandle handle) {
        try {
            if (SerialLog.rotate(handle.serialLog(), SerialLog.DEFAULT_CAP)) {
                LOG.debug("VM {}: serial log over {} bytes, rotated", handle.name(), SerialLog.DEFAULT_CAP);
            }
        } catch (IOException | RuntimeException e) {
            LOG.warn("VM {}: cannot rotate serial log {}: {}", handle.name(), handle.serialLog(), e.toString());
        }
    }

    // ---------------------------------------------------------------- pause / resume

    @Override
    public VmHandle pause(VmHandle handle, HandleJournal journal) {
        handle.requireState("pause", InstanceState.RUNNING, InstanceState.WARM);
        qmp(handle, "stop", Map.of());
        VmHandle next = handle.withState(InstanceState.WARM, null, clock.instant());
        journal.record(next);
        return next;
    }

    @Override
    public VmHandle resume(VmHandle handle, HandleJournal journal) {
        handle.requireState("resume", InstanceState.WARM, InstanceState.RUNNING);
        qmp(handle, "cont", Map.of());
        VmHandle next = handle.withState(InstanceState.RUNNING, null, clock.instant());
        journal.record(next);
        return next;
    }

    @Override
    public Claimed claim(VmSpec standing, VmSpec claimed, VmHandle handle, GuestIdentity identity,
                         HandleJournal journal) {
        return claims.claim(standing, claimed, handle, identity, journal);
    }

    // ---------------------------------------------------------------- sleep / wake

    @Override
    public VmHandle sleep(VmHandle handle, Duration drainDeadline, HandleJournal journal) {
        if (QemuClones.isFileBacked(handle.vmDir())) {
            return clones.sleep(handle, drainDeadline, journal);
        }
        handle.requireState("sleep", InstanceState.RUNNING, InstanceState.WARM);
        VmmProcess process = handle.requireLiveProcess();
        // A zero deadline suspends the guest as it is, workload untouched (scale to zero: a woken
        // instance must serve again at once; see docs/runtime.md).
        if (!drainDeadline.isZero() && handle.state() == InstanceState.WARM) {
            // A warm guest's vCPUs are stopped, so it cannot hear a drain: let it run for the drain;
            // the snapshot below stops it again.
            try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
                qmp.execute("cont", settings.controlTimeout());
            }
        }
        if (!drainDeadline.isZero()) {
            try (GuestChannel channel = agents.connect(handle.agentSocket())) {
                GuestChannel.DrainResult drained = channel.drain(drainDeadline);
                LOG.info("VM {} drained (completed={}, took {})", handle.name(), drained.completed(), drained.took());
            } catch (RuntimeException e) {
                LOG.warn("VM {}: drain failed, snapshotting anyway: {}", handle.name(), e.getMessage());
            }
        }
        Path snapshot = handle.vmDir().resolve(SNAPSHOT);
        // Recorded up front: a runtime that dies after the rename below can still finish the sleep.
        VmHandle snapshotting = handle.withState(InstanceState.SNAPSHOTTING, null, clock.instant())
                .withSnapshot(snapshot, clock.instant());
        journal.record(snapshotting);
        Path partial = handle.vmDir().resolve(SNAPSHOT + ".partial");
        DirectoryTree.deleteFilesQuietly(partial);
        try {
            // The snapshot holds guest memory, secrets included: owner-only before a byte is written.
            Files.createFile(partial, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                    java.nio.file.attribute.PosixFilePermissions.fromString("rw-------")));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot create " + partial + ": " + e.getMessage(), e);
        }
        try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
            qmp.execute("stop", settings.controlTimeout());
            // The default bandwidth cap (128 MiB/s) is meant for live migration over a network.
            qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 8L << 30), settings.controlTimeout());
            migration.saveTo(qmp, handle, partial);
            // The snapshot becomes the only copy of guest memory once QEMU quits: durable before it is
            // named snapshot.bin, and the name durable before SLEEPING is journalled.
            try (java.nio.channels.FileChannel written = java.nio.channels.FileChannel.open(partial, java.nio.file.StandardOpenOption.READ)) {
                written.force(true);
            }
            Files.move(partial, snapshot, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            io.mvm.files.AtomicFile.syncDirectory(handle.vmDir());
            try {
                qmp.execute("quit", settings.controlTimeout());
            } catch (QmpException e) {
                // QEMU may close the monitor before answering quit.
            }
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot keep snapshot of " + handle.name() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            DirectoryTree.deleteFilesQuietly(partial);
            // The VM is paused but intact: leave it warm so nothing is lost.
            journal.record(handle.withState(InstanceState.WARM, "sleep failed: " + e.getMessage(), clock.instant()));
            throw e;
        }
        process.awaitExit(settings.controlTimeout());
        process.killAndAwait();
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        agents.forget(handle.agentSocket());
        DirectoryTree.deleteFilesQuietly(handle.controlSocket(), handle.agentSocket(), handle.vmDir().resolve(PID_FILE));
        VmHandle sleeping = new VmHandle(handle.schemaVersion(), handle.name(), handle.backend(), handle.accelerator(),
                InstanceState.SLEEPING, null, 0, 0, handle.vmDir(), handle.controlSocket(), handle.agentSocket(),
                handle.serialLog(), snapshot, null, handle.ip(), clock.instant(), handle.imageDigests());
        journal.record(sleeping);
        return sleeping;
    }

    @Override
    public VmHandle wake(VmSpec spec, VmHandle handle, HandleJournal journal) {
        if (QemuClones.isFileBacked(handle.vmDir())) {
            return clones.wake(spec, handle, journal);
        }
        // FAILED is allowed too: a wake that failed before the guest resumed keeps its snapshot, so
        // it can be retried; once the guest ran, the snapshot is gone (see discardSnapshot).
        handle.requireState("wake", InstanceState.SLEEPING, InstanceState.FAILED);
        if (handle.snapshot() == null || !Files.isRegularFile(handle.snapshot())) {
            throw MvmException.precondition("VM " + handle.name() + " has no snapshot to wake from"
                    + (handle.state() == InstanceState.FAILED ? " (a failed VM whose guest already resumed)" : "")
                    + "; start it to cold-boot");
        }
        LaunchPhases phases = new LaunchPhases();
        ImageDigests.requireUnchanged(handle, spec.image());
        phases.lap("image check");
        return launchAndWait(spec, handle, Optional.of(handle.snapshot()), journal, phases);
    }

    // ---------------------------------------------------------------- golden snapshots and clones (QemuClones)

    @Override
    public VmHandle startTemplate(VmSpec spec, Path vmDir, HandleJournal journal) {
        return clones.startTemplate(spec, vmDir, journal);
    }

    @Override
    public GoldenSnapshot saveGolden(VmSpec spec, VmHandle template, Path snapshotDir, Duration drainDeadline,
                                     HandleJournal journal) {
        return clones.saveGolden(spec, template, snapshotDir, drainDeadline, journal);
    }

    @Override
    public ClonedVm startClone(VmSpec spec, GoldenSnapshot snapshot, Path vmDir, HandleJournal journal) {
        return clones.startClone(spec, snapshot, vmDir, journal);
    }

    // ---------------------------------------------------------------- stop / destroy

    @Override
    public VmHandle stop(VmHandle handle, Duration grace, HandleJournal journal) {
        VmmProcess process = Optional.ofNullable(handle.process()).filter(VmmProcess::isAlive)
                .or(() -> OrphanedVmm.find(handle.vmDir(), QMP_SOCKET, PID_FILE)).orElse(null);
        StopPath path = StopPath.ALREADY_EXITED;
        if (process != null && process.isAlive()) {
            journal.record(handle.withState(InstanceState.STOPPING, null, clock.instant()));
            path = shutDown(handle, process, grace);
            LOG.info("VM {} stopped via {}", handle.name(), path.wireName());
        }
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        agents.forget(handle.agentSocket());
        DirectoryTree.deleteFilesQuietly(handle.controlSocket(), handle.agentSocket(), handle.vmDir().resolve(PID_FILE));
        if (handle.snapshot() != null) {
            DirectoryTree.deleteFilesQuietly(handle.snapshot());
        }
        VmHandle stopped = new VmHandle(handle.schemaVersion(), handle.name(), handle.backend(), handle.accelerator(),
                InstanceState.STOPPED, path.reason(), 0, 0, handle.vmDir(), handle.controlSocket(), handle.agentSocket(),
                handle.serialLog(), null, null, handle.ip(), clock.instant(), handle.imageDigests());
        journal.record(stopped);
        return stopped;
    }

    private StopPath shutDown(VmHandle handle, VmmProcess process, Duration grace) {
        try {
            if (handle.state() == InstanceState.WARM) {
                qmp(handle, "cont", Map.of());
            }
            try (GuestChannel channel = agents.connect(handle.agentSocket())) {
                channel.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(10), "sync"));
                try {
                    channel.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(2), "poweroff", "-f"));
                } catch (RuntimeException e) {
                    // Expected: the guest powers off before the agent can answer.
                }
            }
            if (process.awaitExit(grace)) {
                return StopPath.GUEST_POWEROFF;
            }
        } catch (RuntimeException e) {
            LOG.info("VM {}: graceful stop through the guest agent failed ({}), asking QEMU to quit", handle.name(), e.getMessage());
        }
        try {
            qmp(handle, "quit", Map.of());
        } catch (RuntimeException e) {
            LOG.debug("quit: {}", e.getMessage());
        }
        if (process.awaitExit(Duration.ofSeconds(10))) {
            return StopPath.QMP_QUIT;
        }
        process.killAndAwait();
        return StopPath.SIGKILL;
    }

    @Override
    public void destroy(VmHandle handle) {
        VmmProcess process = handle.process();
        if (process != null) {
            process.killAndAwait();
        }
        OrphanedVmm.find(handle.vmDir(), QMP_SOCKET, PID_FILE).ifPresent(VmmProcess::killAndAwait);
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        agents.forget(handle.agentSocket());
        jail.release(handle.vmDir());
        DirectoryTree.delete(handle.vmDir());
    }

    @Override
    public void releaseDirectory(Path vmDir) {
        jail.release(vmDir);
    }

    @Override
    public java.util.OptionalLong endOrphanedVmm(Path vmDir) {
        Optional<VmmProcess> orphan = OrphanedVmm.find(vmDir, QMP_SOCKET, PID_FILE);
        orphan.ifPresent(VmmProcess::killAndAwait);
        return orphan.map(p -> java.util.OptionalLong.of(p.pid())).orElse(java.util.OptionalLong.empty());
    }

    @Override
    public GuestChannel guestChannel(VmHandle handle) {
        handle.requireState("talk to the guest of", InstanceState.RUNNING);
        handle.requireLiveProcess();
        return agents.connect(handle.agentSocket());
    }

    // ---------------------------------------------------------------- helpers

    private JsonNode qmp(VmHandle handle, String command, Map<String, ?> arguments) {
        handle.requireLiveProcess();
        try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
            return qmp.execute(command, arguments, settings.controlTimeout());
        }
    }
}
