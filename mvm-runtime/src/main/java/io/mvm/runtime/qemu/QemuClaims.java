package io.mvm.runtime.qemu;

import io.mvm.model.InstanceState;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.Claimable;
import io.mvm.runtime.backend.DriveKind;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.HandleJournal;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.drive.VmDrives;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.guest.GuestIdentity;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Claims of warm VMs on QEMU ({@link Claimable}). The VMM keeps running throughout: QEMU has the
 * secrets and config drive files open, so their new contents are written into the same files
 * (same inode, same size) while the vCPUs are stopped, and the guest remounts them as part of the
 * identity call. A file replaced by rename would leave QEMU reading the old inode.
 */
final class QemuClaims {
    private static final Logger LOG = LoggerFactory.getLogger(QemuClaims.class);
    private static final Set<DriveKind> REWRITTEN = EnumSet.of(DriveKind.SECRETS, DriveKind.CONFIG);

    private final QemuBackend backend;
    private final QemuBackend.Settings settings;
    private final VmDrives drives;
    private final AgentConnector agents;
    private final InstantSource clock;

    QemuClaims(QemuBackend backend, QemuBackend.Settings settings, VmDrives drives, AgentConnector agents,
               InstantSource clock) {
        this.backend = backend;
        this.settings = settings;
        this.drives = drives;
        this.agents = agents;
        this.clock = clock;
    }

    Claimable.Claimed claim(VmSpec standing, VmSpec claimed, VmHandle handle, GuestIdentity identity,
                            HandleJournal journal) {
        LaunchPhases phases = new LaunchPhases();
        handle.requireState("claim", InstanceState.WARM);
        handle.requireLiveProcess();
        requireSameMachine(standing, claimed);
        rewriteDrives(claimed, handle.vmDir());
        phases.lap("drives");
        VmHandle resumed = backend.resume(handle, journal);
        phases.lap("resume");
        long generation;
        try (GuestChannel channel = agents.connect(resumed.agentSocket())) {
            generation = channel.applyIdentity(identity, settings.controlTimeout());
        }
        phases.lap("identity");
        VmHandle next = resumed.withIp(claimed.nic().filter(NicSpec::addressed).map(NicSpec::ipv4).orElse(null),
                clock.instant());
        journal.record(next);
        phases.lap("journal");
        LOG.info("VM {} claimed in {} ms ({})", handle.name(), phases.totalMillis(), phases.summary());
        return new Claimable.Claimed(next, phases.millis(), generation);
    }

    /** A claim changes who the VM is, never what it is: anything else needs a new VMM. */
    static void requireSameMachine(VmSpec standing, VmSpec claimed) {
        List<String> differences = new ArrayList<>();
        if (!standing.image().equals(claimed.image())) {
            differences.add("image " + standing.image().rootfs() + " vs " + claimed.image().rootfs());
        }
        if (standing.vcpus() != claimed.vcpus()) {
            differences.add("vCPUs " + standing.vcpus() + " vs " + claimed.vcpus());
        }
        if (standing.memoryMib() != claimed.memoryMib()) {
            differences.add("memory " + standing.memoryMib() + " vs " + claimed.memoryMib() + " MiB");
        }
        String standingNic = standing.nic().map(n -> n.tap() + "/" + n.mac()).orElse("none");
        String claimedNic = claimed.nic().map(n -> n.tap() + "/" + n.mac()).orElse("none");
        if (!standingNic.equals(claimedNic)) {
            differences.add("NIC " + standingNic + " vs " + claimedNic);
        }
        Set<DriveKind> standingDrives = kinds(standing);
        Set<DriveKind> claimedDrives = kinds(claimed);
        if (!standingDrives.equals(claimedDrives)) {
            differences.add("drives " + standingDrives + " vs " + claimedDrives);
        }
        standing.drive(DriveSpec.Data.class).ifPresent(d -> {
            if (!Objects.equals(claimed.drive(DriveSpec.Data.class).map(DriveSpec.Data::sizeMib).orElse(null),
                    d.sizeMib())) {
                differences.add("data disk size");
            }
        });
        if (!differences.isEmpty()) {
            throw MvmException.precondition("VM " + standing.name() + " cannot be claimed as that spec: "
                    + String.join("; ", differences));
        }
    }

    private static Set<DriveKind> kinds(VmSpec spec) {
        return spec.drives().stream().map(DriveSpec::kind).collect(Collectors.toCollection(() -> EnumSet.noneOf(DriveKind.class)));
    }

    private void rewriteDrives(VmSpec claimed, Path vmDir) {
        List<DriveSpec> rebuilt = claimed.drives().stream().filter(d -> REWRITTEN.contains(d.kind())).toList();
        if (rebuilt.isEmpty()) {
            return;
        }
        Path staging = vmDir.resolve(".claim-staging");
        try {
            DirectoryTree.delete(staging);
            Files.createDirectory(staging);
            drives.prepare(new VmSpec(claimed.name(), claimed.vcpus(), claimed.memoryMib(), claimed.image(), rebuilt,
                    claimed.cmd(), claimed.env(), claimed.nic()), staging);
            for (DriveSpec drive : rebuilt) {
                overwrite(VmDrives.fileFor(staging, drive.kind()), VmDrives.fileFor(vmDir, drive.kind()));
            }
        } catch (IOException e) {
            throw MvmException.internal("cannot rebuild the drives of " + claimed.name() + ": " + e.getMessage(), e);
        } finally {
            DirectoryTree.deleteQuietly(staging);
        }
    }

    /** Writes {@code source}'s bytes into {@code target} in place: QEMU keeps reading the same file. */
    private static void overwrite(Path source, Path target) throws IOException {
        try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ);
             FileChannel out = FileChannel.open(target, StandardOpenOption.WRITE)) {
            if (in.size() != out.size()) {
                throw MvmException.precondition("drive " + target.getFileName() + " would change size ("
                        + out.size() + " → " + in.size() + " bytes) while its VMM has it open");
            }
            ByteBuffer buffer = ByteBuffer.allocate(1 << 20);
            long position = 0;
            while (in.read(buffer.clear(), position) > 0) {
                buffer.flip();
                while (buffer.hasRemaining()) {
                    position += out.write(buffer, position);
                }
            }
            out.force(true);
        }
    }
}
