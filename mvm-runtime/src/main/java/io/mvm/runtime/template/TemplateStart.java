package io.mvm.runtime.template;

import io.mvm.core.template.ArtifactFile;
import io.mvm.core.template.SnapshotInfo;
import io.mvm.core.template.SnapshotRestoreCheck;
import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateRevision;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.DriveKind;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.Fingerprint;
import io.mvm.runtime.backend.HypervisorBackend;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.snapshot.GoldenSnapshot;
import io.mvm.runtime.snapshot.MemorySharing;
import io.mvm.runtime.vm.LocalClones;
import io.mvm.runtime.vm.LocalVms;
import io.mvm.runtime.vm.VmStatus;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Consumer;

/**
 * Starts a VM of a template: by cloning its current revision's golden snapshot when it has one
 * that fits the VM, else by booting its image — and says why it cold-boots. Used by
 * {@code mvm vm run --template} and by the agent for pool instances of a template.
 *
 * <p>The decision ({@link #plan}) reads only the revision record, the backend's fingerprint and
 * the snapshot's files: parameters first ({@link SnapshotRestoreCheck}: backend, QEMU version,
 * accelerator, vCPUs, memory, boot args, image digests), then the files against the checksums in
 * the record ({@link #openVerified}) — a damaged snapshot is reported and never restored — then the
 * device set: a clone gets an empty drive for every slot of the snapshot it lacks, and a drive or
 * NIC the snapshot has no slot for makes it cold-boot.
 */
public final class TemplateStart {
    private TemplateStart() {}

    /** AUTO clones when it can and cold-boots otherwise; CLONE refuses instead of cold-booting; COLD never clones. */
    public enum Mode { AUTO, CLONE, COLD }

    /** How the VM was started: a clone (with its phases), or a cold boot and why. */
    public record Started(VmStatus status, Optional<MemorySharing.ClonedVm> cloned, Optional<String> coldBootReason) {}

    /** What {@link #plan} decided. */
    public sealed interface Plan {
        record Clone(GoldenSnapshot golden, VmSpec spec) implements Plan {}

        record ColdBoot(String reason) implements Plan {}
    }

    /**
     * Starts {@code spec} (built from the template's current revision, e.g. by {@link TemplateBoot})
     * in {@code mode}; {@code notice} hears why a VM cold-boots.
     */
    public static Started start(LocalVms vms, TemplateStore store, TemplateId template, VmSpec spec, Mode mode, Consumer<String> notice) {
        if (mode == Mode.COLD) {
            return new Started(vms.run(spec), Optional.empty(), Optional.of("a cold boot was asked for"));
        }
        Plan plan = store.currentRevision(template)
                .<Plan>map(current -> current.image().rootfs().toAbsolutePath().equals(spec.image().rootfs().toAbsolutePath())
                        ? plan(current, spec, vms.backend())
                        : new Plan.ColdBoot("template " + template + ": its current revision changed while the VM was prepared"))
                .orElseGet(() -> new Plan.ColdBoot("template " + template + " has no intact built revision now"));
        String reason;
        if (plan instanceof Plan.Clone clone) {
            try {
                MemorySharing.ClonedVm cloned = new LocalClones(vms).runClone(clone.spec(), clone.golden().dir());
                return new Started(vms.status(spec.name().value()), Optional.of(cloned), Optional.empty());
            } catch (MvmException e) {
                if (mode == Mode.CLONE || e.category() == ErrorCategory.ALREADY_EXISTS || e.category() == ErrorCategory.INVALID_ARGUMENT) {
                    throw e;
                }
                // The clone is new and failed: nothing of it is worth keeping, and the name is needed for the cold boot.
                destroyQuietly(vms, spec.name().value());
                reason = "cloning failed: " + e.getMessage();
            }
        } else {
            reason = ((Plan.ColdBoot) plan).reason();
        }
        if (mode == Mode.CLONE) {
            throw MvmException.precondition("VM " + spec.name().value() + " cannot be cloned from template " + template + ": " + reason);
        }
        notice.accept("VM " + spec.name().value() + ": cold boot instead of a clone: " + reason);
        return new Started(vms.run(spec), Optional.empty(), Optional.of(reason));
    }

    private static void destroyQuietly(LocalVms vms, String name) {
        try {
            vms.destroy(name);
        } catch (MvmException e) {
            // refused before its directory existed: nothing to remove
        }
    }

    /** Whether and how {@code spec} can be cloned from {@code current}'s golden snapshot. */
    public static Plan plan(TemplateStore.Current current, VmSpec spec, HypervisorBackend backend) {
        TemplateRevision revision = current.revision();
        String what = "template " + revision.templateId() + " revision " + TemplateSnapshots.shortHash(revision.revisionHash());
        if (revision.snapshot().isEmpty()) {
            return new Plan.ColdBoot(what + " has no golden snapshot (mvm template build FILE --on-host --snapshot takes one)");
        }
        if (!(backend instanceof MemorySharing)) {
            return new Plan.ColdBoot("the " + backend.name() + " backend cannot clone golden snapshots");
        }
        List<String> differences = SnapshotRestoreCheck.differences(revision.snapshot().get(),
                target(backend.fingerprint(), revision, spec.vcpus(), spec.memoryMib(), spec.image().bootArgs()));
        if (!differences.isEmpty()) {
            return new Plan.ColdBoot(what + ": its golden snapshot does not fit this VM: " + String.join("; ", differences));
        }
        GoldenSnapshot golden;
        try {
            golden = openVerified(current);
        } catch (MvmException e) {
            return new Plan.ColdBoot(what + ": its golden snapshot is missing or damaged, not restoring it: " + e.getMessage());
        }
        List<String> devices = new ArrayList<>();
        VmSpec padded = withSnapshotSlots(spec, golden.info(), devices);
        if (!devices.isEmpty()) {
            return new Plan.ColdBoot(what + ": its golden snapshot does not fit this VM: " + String.join("; ", devices));
        }
        return new Plan.Clone(golden, padded);
    }

    /** What a VM of {@code revision} with these resources would restore on this backend. */
    static SnapshotRestoreCheck.Target target(Fingerprint fingerprint, TemplateRevision revision, int vcpus, long memMib, String bootArgs) {
        Map<String, String> image = new TreeMap<>();
        for (String role : List.of(ArtifactFile.KERNEL, ArtifactFile.INITRAMFS, ArtifactFile.ROOTFS)) {
            revision.artifact(role).flatMap(ArtifactFile::sha256).ifPresent(sha -> image.put(role, sha));
        }
        return new SnapshotRestoreCheck.Target(fingerprint.backend(), fingerprint.version(), fingerprint.accelerator().wireName(),
                vcpus, memMib, bootArgs, image);
    }

    /**
     * The snapshot of {@code current}, after checking its files against the checksums in the
     * revision record (and, through {@link GoldenSnapshot#verify}, against its own {@code info.json}):
     * FAILED_PRECONDITION naming every problem, so a corrupt or truncated snapshot is never restored.
     */
    public static GoldenSnapshot openVerified(TemplateStore.Current current) {
        SnapshotInfo record = current.revision().snapshot()
                .orElseThrow(() -> MvmException.notFound("revision " + current.revision().revisionHash() + " has no golden snapshot"));
        if (!record.checkable()) {
            throw MvmException.precondition("its snapshot record has no file checksums (written by an older mvm); take a new one");
        }
        Path revisionDir = current.directory().toAbsolutePath().normalize();
        Path dir = revisionDir.resolve(record.directory()).normalize();
        if (!dir.startsWith(revisionDir) || dir.equals(revisionDir)) {
            throw MvmException.precondition("its snapshot directory '" + record.directory() + "' is not inside the revision");
        }
        GoldenSnapshot golden = GoldenSnapshot.open(dir);
        Map<String, io.mvm.runtime.snapshot.SnapshotInfo.SnapshotFile> saved = new LinkedHashMap<>();
        for (var f : new io.mvm.runtime.snapshot.SnapshotInfo.SnapshotFile[] {golden.info().vmstate(), golden.info().memory(),
                golden.info().dataDrive()}) {
            if (f != null) {
                saved.put(f.name(), f);
            }
        }
        List<String> problems = new ArrayList<>();
        for (SnapshotInfo.SnapshotFile expected : record.files()) {
            if (expected.name().equals(io.mvm.runtime.snapshot.SnapshotInfo.FILE_NAME)) {
                checkInfoFile(dir.resolve(expected.name()), expected, problems);
                continue;
            }
            var found = saved.remove(expected.name());
            if (found == null) {
                problems.add(expected.name() + " is not in the snapshot's info.json");
            } else if (found.bytes() != expected.size() || !found.sha256().equals(expected.sha256())) {
                problems.add(expected.name() + " is recorded in info.json as " + found.bytes() + " bytes sha256 " + found.sha256()
                        + ", in the revision as " + expected.size() + " bytes sha256 " + expected.sha256());
            }
        }
        saved.keySet().forEach(name -> problems.add(name + " is not in the revision record"));
        if (!problems.isEmpty()) {
            throw MvmException.precondition("snapshot " + dir + " does not match its revision record, not restoring it: "
                    + String.join("; ", problems));
        }
        golden.verify();
        return golden;
    }

    private static void checkInfoFile(Path file, SnapshotInfo.SnapshotFile expected, List<String> problems) {
        try {
            long size = Files.size(file);
            String sha = ImageBuilder.sha256(file);
            if (size != expected.size() || !sha.equals(expected.sha256())) {
                problems.add(expected.name() + " has " + size + " bytes sha256 " + sha + ", " + expected.size() + " bytes sha256 "
                        + expected.sha256() + " recorded");
            }
        } catch (IOException e) {
            problems.add(expected.name() + " cannot be read: " + e.getMessage());
        }
    }

    /**
     * {@code spec} with an empty drive for every slot of the snapshot it lacks (a restored guest
     * already has those devices); a drive or NIC the snapshot has no slot for is added to
     * {@code differences}, since a guest cannot see a device added after it booted.
     */
    public static VmSpec withSnapshotSlots(VmSpec spec, io.mvm.runtime.snapshot.SnapshotInfo info, List<String> differences) {
        List<DriveSpec> drives = new ArrayList<>(spec.drives());
        for (DriveSpec drive : spec.drives()) {
            if (info.driveSlots().stream().noneMatch(slot -> slot.id().equals(drive.kind().wireName()))) {
                differences.add("this VM has a " + drive.kind().wireName() + " drive, the snapshot none");
            }
        }
        for (io.mvm.runtime.snapshot.SnapshotInfo.DriveSlot slot : info.driveSlots()) {
            DriveKind kind = DriveKind.parse(slot.id());
            if (spec.drives().stream().noneMatch(d -> d.kind() == kind)) {
                drives.add(switch (kind) {
                    case DATA -> new DriveSpec.Data(Math.max(8, slot.bytes() >> 20));
                    case SECRETS -> new DriveSpec.Secrets(Map.of());
                    case CONFIG -> new DriveSpec.Config(1, Map.of());
                });
            }
        }
        if (info.nic() != spec.nic().isPresent()) {
            differences.add(info.nic() ? "the snapshot has a NIC, this VM none" : "this VM has a NIC, the snapshot none");
        }
        return new VmSpec(spec.name(), spec.vcpus(), spec.memoryMib(), spec.image(), drives, spec.cmd(), spec.env(), spec.nic());
    }
}
