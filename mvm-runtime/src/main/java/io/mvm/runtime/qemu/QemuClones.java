package io.mvm.runtime.qemu;

import io.mvm.runtime.backend.NicSpec;
import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveKind;
import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.ImageFileDigest;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.backend.VmmProcess;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.cgroup.VmCgroup;
import io.mvm.runtime.drive.AttachedDrive;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.GuestIdentity;
import io.mvm.runtime.snapshot.FileDigests;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.runtime.snapshot.MemorySharing;
import io.mvm.runtime.snapshot.SnapshotCompatibility;
import io.mvm.runtime.snapshot.SnapshotInfo;
import io.mvm.files.AtomicFile;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Guest RAM in files on QEMU: templates (RAM in a file of their own, {@code share=on}), golden
 * snapshots of them, clones (the golden RAM mapped {@code share=off}, i.e. private copy-on-write);
 * the sleep/wake of any VM whose RAM is file-backed is {@link FileBackedSleep}'s. Kept apart from {@link QemuBackend}, which
 * calls in here for VMs that have a {@link MemoryBacking}, and reuses its launch and agent wait.
 *
 * <p>Verified on QEMU 7.2 microvm under TCG (docs/runtime.md, "Golden snapshots and clones"):
 * the RAM block of a {@code share=on} backend is skipped by migration with the {@code x-ignore-shared}
 * capability, so the device state is all that is written (about 60 KB); a clone launched with
 * {@code -incoming defer}, the capability set on its side too, and {@code migrate-incoming} finds
 * the RAM already in place through its mapping.
 */
final class QemuClones {
    private static final Logger LOG = LoggerFactory.getLogger(QemuClones.class);
    private static final String SNAPSHOT = QemuBackend.SNAPSHOT;

    private final QemuBackend backend;
    private final QemuBackend.Settings settings;
    private final VmDrives drives;
    private final CgroupLimits cgroups;
    private final AgentConnector agents;
    private final InstantSource clock;
    private final RandomGenerator random;
    private final QmpMigration migration;
    private final FileBackedSleep fileBacked;
    private volatile CachedVersion qemuVersion;

    private record CachedVersion(String binaryIdentity, String version) {}

    QemuClones(QemuBackend backend, QemuBackend.Settings settings, VmDrives drives, CgroupLimits cgroups,
               AgentConnector agents, InstantSource clock, RandomGenerator random) {
        this.backend = backend;
        this.settings = settings;
        this.drives = drives;
        this.cgroups = cgroups;
        this.agents = agents;
        this.clock = clock;
        this.random = random;
        this.migration = new QmpMigration(settings, agents);
        this.fileBacked = new FileBackedSleep(backend, settings, drives, cgroups, clock, random, migration, this);
    }

    // ---------------------------------------------------------------- template

    VmHandle startTemplate(VmSpec spec, Path vmDir, HandleJournal journal) {
        MemoryBacking backing = MemoryBacking.ownFile(vmDir);
        MemoryBacking.createEmpty(backing.file());
        backing.write(vmDir);
        return backend.start(spec, vmDir, journal);
    }

    /**
     * The cold-boot command line of a VM with a {@link MemoryBacking}: one with a RAM file of its
     * own keeps it (it can then sleep cheaply and become a template); a stopped clone boots afresh
     * from anonymous memory, since nothing of its template's RAM is of use to a new boot.
     */
    List<String> coldBootArguments(List<String> arguments, long memoryMib, Path vmDir) {
        Optional<MemoryBacking> backing = MemoryBacking.read(vmDir);
        if (backing.isEmpty()) {
            return arguments;
        }
        if (!backing.get().shared()) {
            MemoryBacking.forget(vmDir);
            return arguments;
        }
        return backing.get().arguments(arguments, memoryMib, false, Optional.empty());
    }

    VmHandle sleep(VmHandle handle, Duration drainDeadline, HandleJournal journal) {
        return fileBacked.sleep(handle, drainDeadline, journal);
    }

    VmHandle wake(VmSpec spec, VmHandle handle, HandleJournal journal) {
        return fileBacked.wake(spec, handle, journal);
    }

    static boolean isFileBacked(Path vmDir) {
        return Files.isRegularFile(vmDir.resolve(MemoryBacking.FILE_NAME));
    }

    // ---------------------------------------------------------------- golden snapshot

    GoldenSnapshot saveGolden(VmSpec spec, VmHandle handle, Path dir, Duration drainDeadline, HandleJournal journal) {
        handle.requireState("save a golden snapshot of", InstanceState.RUNNING, InstanceState.WARM);
        VmmProcess process = handle.requireLiveProcess();
        MemoryBacking backing = MemoryBacking.read(handle.vmDir()).filter(MemoryBacking::shared)
                .orElseThrow(() -> MvmException.precondition("VM " + handle.name() + " does not keep its RAM in a file of"
                        + " its own; run it as a template (mvm vm run --template) to save it as a golden snapshot"));
        if (Files.exists(dir)) {
            throw new MvmException(ErrorCategory.ALREADY_EXISTS, "snapshot directory " + dir + " already exists");
        }
        LaunchPhases phases = new LaunchPhases();
        createPrivateDir(dir);
        boolean vmmEnded = false;
        try {
            migration.resumeAndDrain(handle, drainDeadline);
            phases.lap("drain");
            Path partial = dir.resolve(GoldenSnapshot.VMSTATE + ".partial");
            QmpMigration.createOwnerOnly(partial);
            try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
                qmp.execute("stop", settings.controlTimeout());
                migration.ignoreShared(qmp);
                migration.saveTo(qmp, handle, partial);
                phases.lap("device state");
                QmpMigration.force(partial);
                Files.move(partial, dir.resolve(GoldenSnapshot.VMSTATE), StandardCopyOption.ATOMIC_MOVE);
                migration.quit(qmp);
            }
            // From here on the template's RAM file is never written again: its VMM is gone.
            process.awaitExit(settings.controlTimeout());
            process.killAndAwait();
            vmmEnded = true;
            cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
            DirectoryTree.deleteFilesQuietly(handle.controlSocket(), handle.agentSocket(),
                    handle.vmDir().resolve(QemuBackend.PID_FILE));
            phases.lap("quit");
            Path memory = dir.resolve(GoldenSnapshot.MEMORY);
            moveOrCopy(backing.file(), memory);
            // The shared mapping's pages were in the page cache: on disk before info.json names the file.
            QmpMigration.force(memory);
            phases.lap("ram file");
            Path dataDrive = VmDrives.fileFor(handle.vmDir(), DriveKind.DATA);
            SnapshotInfo.SnapshotFile data = null;
            if (Files.isRegularFile(dataDrive)) {
                copySparse(dataDrive, dir.resolve(GoldenSnapshot.DATA_DRIVE));
                QmpMigration.force(dir.resolve(GoldenSnapshot.DATA_DRIVE));
            }
            for (String name : List.of(GoldenSnapshot.MEMORY, GoldenSnapshot.VMSTATE, GoldenSnapshot.DATA_DRIVE)) {
                if (Files.exists(dir.resolve(name))) {
                    Files.setPosixFilePermissions(dir.resolve(name), PosixFilePermissions.fromString("r--------"));
                }
            }
            if (backend.vmmJail().enabled()) {
                // Its clones' VMMs (and only they) map the RAM file: before its identity is recorded below.
                backend.vmmJail().shareGolden(memory);
            }
            phases.lap("data drive");
            SnapshotInfo.SnapshotFile vmstate = FileDigests.describe(dir.resolve(GoldenSnapshot.VMSTATE));
            SnapshotInfo.SnapshotFile ram = FileDigests.describe(memory);
            if (Files.isRegularFile(dir.resolve(GoldenSnapshot.DATA_DRIVE))) {
                data = FileDigests.describe(dir.resolve(GoldenSnapshot.DATA_DRIVE));
            }
            phases.lap("hashes");
            SnapshotInfo info = new SnapshotInfo(SnapshotInfo.SCHEMA_VERSION, clock.instant(), handle.name(),
                    backend.name(), qemuVersion(), handle.accelerator(), spec.vcpus(), spec.memoryMib(),
                    spec.image().bootArgs(), kernelCommandLine(spec), imageSha256(spec), vmstate, ram, data,
                    driveSlots(handle.vmDir()), spec.nic().isPresent(), phases.totalMillis());
            GoldenSnapshot golden = GoldenSnapshot.write(dir, info);
            AtomicFile.syncDirectory(dir);
            MemoryBacking.forget(handle.vmDir());
            journal.record(stoppedHandle(handle, "saved as golden snapshot " + dir));
            LOG.info("VM {} saved as golden snapshot {} in {} ms (vmstate {} bytes, RAM {} MiB; {})", handle.name(), dir,
                    phases.totalMillis(), vmstate.bytes(), ram.bytes() >> 20, phases.summary());
            return golden;
        } catch (IOException | RuntimeException e) {
            DirectoryTree.deleteQuietly(dir);
            if (vmmEnded) {
                journal.record(stoppedHandle(handle, "saving a golden snapshot failed after its VMM ended: " + e.getMessage()));
            } else if (process.isAlive()) {
                // Paused but intact, like a failed sleep: nothing is lost.
                journal.record(handle.withState(InstanceState.WARM, "golden snapshot failed: " + e.getMessage(), clock.instant()));
            }
            throw e instanceof MvmException mvm ? mvm
                    : new MvmException(ErrorCategory.INTERNAL, "cannot save golden snapshot of " + handle.name() + ": " + e.getMessage(), e);
        }
    }

    private VmHandle stoppedHandle(VmHandle handle, String reason) {
        return new VmHandle(handle.schemaVersion(), handle.name(), handle.backend(), handle.accelerator(),
                InstanceState.STOPPED, reason, 0, 0, handle.vmDir(), handle.controlSocket(), handle.agentSocket(),
                handle.serialLog(), null, null, handle.ip(), clock.instant(), handle.imageDigests());
    }

    // ---------------------------------------------------------------- clone

    MemorySharing.ClonedVm startClone(VmSpec given, GoldenSnapshot golden, Path vmDir, HandleJournal journal) {
        LaunchPhases phases = new LaunchPhases();
        SnapshotInfo info = golden.info();
        // A template with a workload got a config drive for it (VmDrives.withWorkloadDrive): a clone
        // with a workload of its own takes that slot the same way (its workload also comes with
        // clone-identity; the drive holds it for a later cold boot).
        boolean configSlot = info.driveSlots().stream().anyMatch(s -> s.id().equals(DriveKind.CONFIG.wireName()));
        VmSpec spec = configSlot ? VmDrives.withWorkloadDrive(given) : given;
        backend.validate(spec);
        requireCompatible(spec, golden, Map.of());
        golden.verify();
        phases.lap("checks");
        Optional<Path> goldenData = golden.dataDrive();
        if (goldenData.isPresent()) {
            // The guest's page cache and ext4 state in the snapshot describe this drive as it was at the
            // snapshot: each clone starts from its own copy of it (sparse, so cheap).
            copySparse(goldenData.get(), VmDrives.fileFor(vmDir, DriveKind.DATA));
            try {
                Files.setPosixFilePermissions(VmDrives.fileFor(vmDir, DriveKind.DATA), PosixFilePermissions.fromString("rw-------"));
            } catch (IOException e) {
                throw new MvmException(ErrorCategory.INTERNAL, "cannot make the clone's data drive writable: " + e.getMessage(), e);
            }
        }
        List<AttachedDrive> attached = drives.prepare(spec, vmDir);
        fitDrivesToSlots(attached, info.driveSlots(), spec, golden);
        phases.lap("drives");
        MemoryBacking backing = MemoryBacking.cloneOf(golden.memory(), golden.dir());
        backing.write(vmDir);
        QemuLaunch launch = launchFor(spec, info.accelerator(), attached, vmDir);
        List<String> arguments = backing.arguments(launch.arguments(), spec.memoryMib(), true,
                Optional.of(info.kernelCommandLine()));
        Optional<VmmJail.VmmUser> user = backend.jail(vmDir, attached, spec, Optional.of(backing), info.accelerator());
        Optional<VmCgroup> group = cgroups.create(VmCgroup.groupName(spec.name().value(), vmDir), spec.vcpus(), spec.memoryMib());
        VmHandle handle = new VmHandle(VmHandle.SCHEMA_VERSION, spec.name().value(), backend.name(), info.accelerator(),
                InstanceState.CREATING, null, 0, 0, vmDir, vmDir.resolve(QemuBackend.QMP_SOCKET),
                vmDir.resolve(QemuBackend.AGENT_SOCKET), vmDir.resolve(QemuBackend.SERIAL_LOG), null,
                group.map(VmCgroup::encode).orElse(null), spec.nic().map(n -> n.ipv4()).orElse(null), clock.instant(),
                ImageDigests.recorded(spec.image(), clock.instant()));
        journal.record(handle);
        phases.lap("cgroup+journal");
        VmmProcess process = null;
        try {
            process = backend.launch(arguments, vmDir, group, user);
            handle = handle.withProcess(process, clock.instant())
                    .withVmmUid(user.map(VmmJail.VmmUser::uid).orElse(0), clock.instant());
            journal.record(handle);
            phases.lap("vmm start");
            migration.restore(handle, golden.vmstate(), true);
            phases.lap("device state");
            backend.waitForAgent(handle, process, false, phases, channel -> channel.health(Duration.ofSeconds(5)));
            GuestIdentity identity = GuestIdentity.forClone(clock.instant(), random, spec.name().value(),
                    spec.nic().filter(NicSpec::addressed).map(n -> new GuestIdentity.Network(n.mac(), n.cidr(), n.gateway())),
                    Optional.ofNullable(spec.cmd()), spec.env());
            long generation;
            try (GuestChannel channel = agents.connect(handle.agentSocket())) {
                generation = channel.applyIdentity(identity, settings.controlTimeout());
            }
            phases.lap("identity");
            handle = handle.withState(InstanceState.RUNNING, null, clock.instant());
            journal.record(handle);
            phases.lap("journal");
            LOG.info("VM {} cloned from {} in {} ms (pid {}, accel {}; {})", handle.name(), golden.dir(),
                    phases.totalMillis(), process.pid(), info.accelerator(), phases.summary());
            return new MemorySharing.ClonedVm(handle, phases.millis(), phases.totalMillis(), generation);
        } catch (RuntimeException e) {
            // The golden snapshot is untouched whatever happened: killing the clone loses nothing.
            if (process != null) {
                process.killAndAwait();
            }
            group.ifPresent(cgroups::removeQuietly);
            journal.record(handle.withProcess(null, clock.instant()).withState(InstanceState.FAILED,
                    "clone from " + golden.dir() + " failed: " + e.getMessage(), clock.instant()));
            ErrorCategory category = e instanceof MvmException mvm ? mvm.category() : ErrorCategory.INTERNAL;
            throw new MvmException(category, "VM " + spec.name().value() + " could not be cloned from " + golden.dir()
                    + ": " + e.getMessage(), e);
        }
    }

    /** FAILED_PRECONDITION naming every difference between the snapshot and what the clone would run with. */
    void requireCompatible(VmSpec spec, GoldenSnapshot golden, Map<String, Long> builtDriveSizes) {
        Map<String, Long> slots = new TreeMap<>();
        spec.drives().forEach(d -> slots.put(d.kind().wireName(), builtDriveSizes.getOrDefault(d.kind().wireName(), 0L)));
        SnapshotCompatibility.CloneTarget target = new SnapshotCompatibility.CloneTarget(backend.name(), qemuVersion(),
                spec.vcpus(), spec.memoryMib(), spec.image().bootArgs(), imageSha256(spec), slots, spec.nic().isPresent());
        List<String> differences = SnapshotCompatibility.differences(golden.info(), target);
        if (!differences.isEmpty()) {
            throw MvmException.precondition("cannot clone " + spec.name().value() + " from " + golden.dir() + ": "
                    + String.join("; ", differences));
        }
    }

    /**
     * A guest reads a block device's capacity when it probes it at boot, and a restored guest has
     * booted long ago: each read-only drive the clone brings must be exactly as large as the
     * template's was. Smaller ones are grown (ext4 ignores the tail); larger ones are refused.
     */
    private static void fitDrivesToSlots(List<AttachedDrive> attached, List<SnapshotInfo.DriveSlot> slots, VmSpec spec,
                                         GoldenSnapshot golden) {
        for (AttachedDrive drive : attached.subList(1, attached.size())) {
            SnapshotInfo.DriveSlot slot = slots.stream().filter(s -> s.id().equals(drive.id())).findFirst()
                    .orElseThrow(() -> MvmException.precondition("the snapshot has no " + drive.id() + " drive slot"));
            growTo(drive.file(), slot.bytes(), "cannot clone " + spec.name().value() + " from " + golden.dir());
        }
    }

    static void growTo(Path file, long bytes, String context) {
        try {
            long size = Files.size(file);
            if (size > bytes) {
                throw MvmException.precondition(context + ": its " + file.getFileName() + " needs " + size
                        + " bytes, but the guest saw a " + bytes + "-byte device at boot (make the content smaller)");
            }
            if (size < bytes) {
                try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
                    raf.setLength(bytes);
                }
            }
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot size " + file + ": " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- facts about the launch

    QemuLaunch launchFor(VmSpec spec, io.mvm.model.Accelerator accelerator, List<AttachedDrive> attached, Path vmDir) {
        return new QemuLaunch(settings.binary(), accelerator, spec.vcpus(), spec.memoryMib(), spec.image().kernel(),
                spec.image().initramfs(), spec.image().bootArgs(), spec.name().value(), spec.nic(),
                attached, vmDir.resolve(QemuBackend.SERIAL_LOG), vmDir.resolve(QemuBackend.QMP_SOCKET),
                vmDir.resolve(QemuBackend.AGENT_SOCKET), vmDir.resolve(QemuBackend.PID_FILE), Optional.empty());
    }

    private String kernelCommandLine(VmSpec spec) {
        return launchFor(spec, settings.accelerator(), List.of(), Path.of(".")).kernelCommandLine();
    }

    /** sha256 of the image files by role, from image.json where it has them (no hashing on the clone path). */
    private Map<String, String> imageSha256(VmSpec spec) {
        Map<String, ImageFileDigest> recorded = ImageDigests.recorded(spec.image(), clock.instant());
        Map<String, String> out = new TreeMap<>();
        out.put("kernel", recorded.get(spec.image().kernel().toAbsolutePath().toString()).sha256());
        out.put("initramfs", recorded.get(spec.image().initramfs().toAbsolutePath().toString()).sha256());
        out.put("rootfs", recorded.get(spec.image().rootfs().toAbsolutePath().toString()).sha256());
        return out;
    }

    private static List<SnapshotInfo.DriveSlot> driveSlots(Path vmDir) throws IOException {
        List<SnapshotInfo.DriveSlot> out = new ArrayList<>();
        for (DriveKind kind : DriveKind.values()) {
            Path file = VmDrives.fileFor(vmDir, kind);
            if (Files.isRegularFile(file)) {
                out.add(new SnapshotInfo.DriveSlot(kind.wireName(), Files.size(file), kind != DriveKind.DATA));
            }
        }
        return out;
    }

    /**
     * {@code qemu-system-x86_64 --version} costs a process start (tens of ms under load), too much
     * for every clone: cached as long as the binary on PATH is the same file (identity).
     */
    String qemuVersion() {
        Path binary = resolveOnPath(settings.binary());
        String identity = binary == null ? null : FileDigests.identity(binary);
        CachedVersion cached = qemuVersion;
        if (cached != null && identity != null && identity.equals(cached.binaryIdentity())) {
            return cached.version();
        }
        String version = QemuVersion.of(settings.binary());
        qemuVersion = new CachedVersion(identity, version);
        return version;
    }

    private static Path resolveOnPath(String binary) {
        if (binary.contains("/")) {
            return Path.of(binary).toAbsolutePath();
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (!dir.isBlank() && Files.isExecutable(Path.of(dir, binary))) {
                try {
                    return Path.of(dir, binary).toRealPath();
                } catch (IOException e) {
                    return null;
                }
            }
        }
        return null;
    }

    // ---------------------------------------------------------------- files
    private static void createPrivateDir(Path dir) {
        try {
            Files.createDirectories(dir.getParent());
            Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cannot create " + dir + ": " + e.getMessage(), e);
        }
    }



    private static void moveOrCopy(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            copySparse(from, to);
            Files.delete(from);
        }
    }

    /** {@code cp --sparse=always --reflink=auto}: a mostly empty ext4 or RAM file stays mostly holes. */
    static void copySparse(Path from, Path to) {
        try {
            Process cp = new ProcessBuilder("cp", "--sparse=always", "--reflink=auto", from.toString(), to.toString())
                    .redirectErrorStream(true).start();
            String output = new String(cp.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).strip();
            if (!cp.waitFor(10, TimeUnit.MINUTES) || cp.exitValue() != 0) {
                cp.destroyForcibly();
                throw new MvmException(ErrorCategory.INTERNAL, "cannot copy " + from + " to " + to + ": " + output);
            }
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot copy " + from + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted while copying " + from, e);
        }
    }
}
