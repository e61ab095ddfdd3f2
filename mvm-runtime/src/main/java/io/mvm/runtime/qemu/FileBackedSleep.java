package io.mvm.runtime.qemu;

import io.mvm.model.ErrorCategory;
import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveKind;
import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.backend.VmmProcess;
import io.mvm.runtime.cgroup.CgroupLimits;
import io.mvm.runtime.cgroup.VmCgroup;
import io.mvm.runtime.drive.AttachedDrive;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.GuestIdentity;
import io.mvm.files.AtomicFile;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.InstantSource;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.random.RandomGenerator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sleep and wake of VMs whose guest RAM is file-backed ({@link MemoryBacking}): called by
 * {@link QemuBackend} through {@link QemuClones} for VM directories that have a {@code memory.json}.
 */
final class FileBackedSleep {
    private static final Logger LOG = LoggerFactory.getLogger(FileBackedSleep.class);
    private static final String SNAPSHOT = QemuBackend.SNAPSHOT;

    private final QemuBackend backend;
    private final QemuBackend.Settings settings;
    private final VmDrives drives;
    private final CgroupLimits cgroups;
    private final InstantSource clock;
    private final RandomGenerator random;
    private final QmpMigration migration;
    private final QemuClones launches;

    FileBackedSleep(QemuBackend backend, QemuBackend.Settings settings, VmDrives drives, CgroupLimits cgroups,
                    InstantSource clock, RandomGenerator random, QmpMigration migration, QemuClones launches) {
        this.backend = backend;
        this.settings = settings;
        this.drives = drives;
        this.cgroups = cgroups;
        this.clock = clock;
        this.random = random;
        this.migration = migration;
        this.launches = launches;
    }

    /**
     * A VM with a RAM file of its own saves only its device state: its RAM is already in the file,
     * which stays where it is (in the page cache, written back by the kernel when it likes). A clone
     * saves its RAM in the stream too, since its own pages exist only in its private mapping.
     * The RAM file is not fsynced: that would cost time in proportion to the dirty RAM, which is
     * what this path avoids; a host crash (not a VMM or runtime crash) can therefore lose a
     * sleeping file-backed VM.
     */
    VmHandle sleep(VmHandle handle, Duration drainDeadline, HandleJournal journal) {
        handle.requireState("sleep", InstanceState.RUNNING, InstanceState.WARM);
        VmmProcess process = handle.requireLiveProcess();
        MemoryBacking backing = MemoryBacking.read(handle.vmDir()).orElseThrow();
        LaunchPhases phases = new LaunchPhases();
        if (!drainDeadline.isZero()) { // zero: suspend as it is, workload untouched (scale to zero)
            migration.resumeAndDrain(handle, drainDeadline);
        }
        phases.lap("drain");
        Path snapshot = handle.vmDir().resolve(SNAPSHOT);
        VmHandle snapshotting = handle.withState(InstanceState.SNAPSHOTTING, null, clock.instant())
                .withSnapshot(snapshot, clock.instant());
        journal.record(snapshotting);
        Path partial = handle.vmDir().resolve(SNAPSHOT + ".partial");
        try (QmpClient qmp = QmpClient.connect(handle.controlSocket(), settings.controlTimeout())) {
            QmpMigration.createOwnerOnly(partial);
            qmp.execute("stop", settings.controlTimeout());
            // Set either way: a clone's VMM still has the capability on from its own restore, and a
            // stream written with it carries an extra field per RAM block that a wake without it misreads.
            migration.setIgnoreShared(qmp, backing.shared());
            if (!backing.shared()) {
                qmp.execute("migrate-set-parameters", Map.of("max-bandwidth", 8L << 30), settings.controlTimeout());
            }
            migration.saveTo(qmp, handle, partial);
            phases.lap(backing.shared() ? "device state" : "device state + RAM");
            QmpMigration.force(partial);
            Files.move(partial, snapshot, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            AtomicFile.syncDirectory(handle.vmDir());
            migration.quit(qmp);
        } catch (IOException | RuntimeException e) {
            DirectoryTree.deleteFilesQuietly(partial);
            journal.record(handle.withState(InstanceState.WARM, "sleep failed: " + e.getMessage(), clock.instant()));
            throw e instanceof MvmException mvm ? mvm
                    : new MvmException(ErrorCategory.INTERNAL, "cannot snapshot " + handle.name() + ": " + e.getMessage(), e);
        }
        process.awaitExit(settings.controlTimeout());
        process.killAndAwait();
        cgroups.removeQuietly(VmCgroup.decode(handle.cgroup()));
        DirectoryTree.deleteFilesQuietly(handle.controlSocket(), handle.agentSocket(), handle.vmDir().resolve(QemuBackend.PID_FILE));
        VmHandle sleeping = new VmHandle(handle.schemaVersion(), handle.name(), handle.backend(), handle.accelerator(),
                InstanceState.SLEEPING, null, 0, 0, handle.vmDir(), handle.controlSocket(), handle.agentSocket(),
                handle.serialLog(), snapshot, null, handle.ip(), clock.instant(), handle.imageDigests());
        journal.record(sleeping);
        phases.lap("quit+journal");
        LOG.info("VM {} asleep in {} ms ({} RAM; {})", handle.name(), phases.totalMillis(),
                backing.shared() ? "file-backed" : "clone", phases.summary());
        return sleeping;
    }

    /**
     * Restores a file-backed VM. One that slept with its own RAM file maps it again ({@code share=on})
     * and loads only the device state; a clone, whose sleep wrote its RAM into the stream, is
     * restored into a new RAM file of its own and is a file-backed VM from then on (it no longer
     * needs its template's file). Either way the guest then gets the current time, fresh entropy
     * and a generation bump, after its secrets are remounted.
     */
    VmHandle wake(VmSpec spec, VmHandle handle, HandleJournal journal) {
        handle.requireState("wake", InstanceState.SLEEPING, InstanceState.FAILED);
        Path snapshot = handle.snapshot();
        if (snapshot == null || !Files.isRegularFile(snapshot)) {
            throw MvmException.precondition("VM " + handle.name() + " has no snapshot to wake from; start it to cold-boot");
        }
        LaunchPhases phases = new LaunchPhases();
        ImageDigests.requireUnchanged(handle, spec.image());
        MemoryBacking backing = MemoryBacking.read(handle.vmDir()).orElseThrow();
        boolean deviceStateOnly = backing.shared();
        MemoryBacking target = deviceStateOnly ? backing : MemoryBacking.ownFile(handle.vmDir());
        if (deviceStateOnly) {
            requireRamFile(backing, spec, handle.name());
        } else {
            MemoryBacking.createEmpty(target.file());
        }
        Path vmDir = handle.vmDir();
        Map<String, Long> slotSizes = readOnlyDriveSizes(vmDir);
        OrphanedVmm.find(vmDir, QemuBackend.QMP_SOCKET, QemuBackend.PID_FILE).ifPresent(VmmProcess::killAndAwait);
        QemuBackend.clearRunDir(vmDir);
        phases.lap("checks");
        List<AttachedDrive> attached = drives.prepare(VmDrives.withWorkloadDriveIfAttached(spec, vmDir), vmDir);
        for (AttachedDrive drive : attached.subList(1, attached.size())) {
            Long slot = slotSizes.get(drive.id());
            if (slot != null) {
                QemuClones.growTo(drive.file(), slot, "cannot wake " + handle.name());
            }
        }
        phases.lap("drives");
        QemuLaunch launch = launches.launchFor(spec, handle.accelerator(), attached, vmDir);
        List<String> arguments = target.arguments(launch.arguments(), spec.memoryMib(), true, Optional.empty());
        Optional<VmmJail.VmmUser> user = backend.jail(vmDir, attached, spec, Optional.of(target), handle.accelerator());
        Optional<VmCgroup> group = cgroups.create(VmCgroup.groupName(handle.name(), vmDir), spec.vcpus(), spec.memoryMib());
        VmHandle current = handle.withState(InstanceState.WAKING, null, clock.instant()).withProcess(null, clock.instant());
        current = new VmHandle(current.schemaVersion(), current.name(), current.backend(), current.accelerator(),
                current.state(), null, 0, 0, vmDir, vmDir.resolve(QemuBackend.QMP_SOCKET),
                vmDir.resolve(QemuBackend.AGENT_SOCKET), current.serialLog(),
                snapshot, group.map(VmCgroup::encode).orElse(null), current.ip(), clock.instant(), current.imageDigests());
        journal.record(current);
        phases.lap("cgroup+journal");
        VmmProcess process = null;
        boolean guestResumed = false;
        try {
            process = backend.launch(arguments, vmDir, group, user);
            current = current.withProcess(process, clock.instant())
                    .withVmmUid(user.map(VmmJail.VmmUser::uid).orElse(0), clock.instant());
            journal.record(current);
            phases.lap("vmm start");
            migration.restore(current, snapshot, deviceStateOnly);
            phases.lap("restore");
            guestResumed = true;
            // The guest now writes to its RAM and drives: this device state must never be loaded again.
            DirectoryTree.deleteFilesQuietly(snapshot);
            current = current.withSnapshot(null, clock.instant());
            journal.record(current);
            if (!deviceStateOnly) {
                target.write(vmDir);
            }
            GuestIdentity identity = GuestIdentity.afterWake(clock.instant(), random);
            backend.waitForAgent(current, process, false, phases, channel -> {
                channel.reloadSecrets(settings.controlTimeout());
                channel.applyIdentity(identity, settings.controlTimeout());
            });
            current = current.withState(InstanceState.RUNNING, null, clock.instant());
            journal.record(current);
            phases.lap("journal");
            LOG.info("VM {} awake in {} ms (pid {}, {}; {})", current.name(), phases.totalMillis(), process.pid(),
                    deviceStateOnly ? "device state only" : "clone RAM into its own file", phases.summary());
            return current;
        } catch (RuntimeException e) {
            if (guestResumed && process != null && process.isAlive()) {
                // Its snapshot is gone and its memory lives only in this VMM: keep it, as QemuBackend does.
                journal.record(current.withState(InstanceState.FAILED, "woke, but the guest's first call failed: "
                        + e.getMessage() + " (the VMM keeps running; stop and start the VM to cold-boot)", clock.instant()));
            } else {
                if (process != null) {
                    process.killAndAwait();
                }
                group.ifPresent(cgroups::removeQuietly);
                journal.record(current.withProcess(null, clock.instant()).withState(InstanceState.FAILED,
                        "wake failed: " + e.getMessage(), clock.instant()));
            }
            ErrorCategory category = e instanceof MvmException mvm ? mvm.category() : ErrorCategory.INTERNAL;
            throw new MvmException(category, "VM " + handle.name() + " did not wake: " + e.getMessage(), e);
        }
    }

    private static void requireRamFile(MemoryBacking backing, VmSpec spec, String name) {
        try {
            long expected = spec.memoryMib() << 20;
            if (!Files.isRegularFile(backing.file()) || Files.size(backing.file()) != expected) {
                throw MvmException.precondition("VM " + name + ": its RAM file " + backing.file()
                        + " is missing or not " + expected + " bytes; start it to cold-boot");
            }
        } catch (IOException e) {
            throw MvmException.precondition("VM " + name + ": cannot read its RAM file: " + e.getMessage());
        }
    }

    private static Map<String, Long> readOnlyDriveSizes(Path vmDir) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (DriveKind kind : List.of(DriveKind.SECRETS, DriveKind.CONFIG)) {
            Path file = VmDrives.fileFor(vmDir, kind);
            try {
                if (Files.isRegularFile(file)) {
                    out.put(kind.wireName(), Files.size(file));
                }
            } catch (IOException e) {
                // rebuilt below anyway; without a known size it is simply not padded
            }
        }
        return out;
    }

}
