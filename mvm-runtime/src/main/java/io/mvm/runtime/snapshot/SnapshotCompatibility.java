package io.mvm.runtime.snapshot;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Whether a clone can be restored from a snapshot: a pure comparison of what the snapshot was
 * taken with and what the clone would be launched with. A restore with other vCPUs, memory or
 * devices fails inside QEMU with an unhelpful message at best; with another kernel or rootfs it
 * "works" and corrupts the guest. So every difference is found up front and named.
 */
public final class SnapshotCompatibility {
    private SnapshotCompatibility() {}

    /**
     * What the clone would run with.
     *
     * @param driveSlots drive id → capacity in bytes the clone's spec needs ({@code data} is the
     *                   template's copy, so only its presence counts), in any order
     * @param imageSha256 sha256 of the clone image's kernel, initramfs and rootfs, by role
     */
    public record CloneTarget(String backend, String backendVersion, int vcpus, long memoryMib, String imageBootArgs,
                              Map<String, String> imageSha256, Map<String, Long> driveSlots, boolean nic) {}

    /** Every difference, each as one readable phrase; empty when the clone may be restored. */
    public static List<String> differences(SnapshotInfo snapshot, CloneTarget clone) {
        List<String> out = new ArrayList<>();
        differ(out, "backend", snapshot.backend(), clone.backend());
        differ(out, "backend version", snapshot.backendVersion(), clone.backendVersion());
        differ(out, "vCPUs", snapshot.vcpus(), clone.vcpus());
        differ(out, "memory (MiB)", snapshot.memoryMib(), clone.memoryMib());
        differ(out, "image boot args", snapshot.imageBootArgs(), clone.imageBootArgs());
        for (String role : new TreeSet<>(snapshot.imageSha256().keySet())) {
            differ(out, "image " + role + " sha256", snapshot.imageSha256().get(role), clone.imageSha256().get(role));
        }
        for (SnapshotInfo.DriveSlot slot : snapshot.driveSlots()) {
            Long wanted = clone.driveSlots().get(slot.id());
            if (wanted == null) {
                out.add("the snapshot has a " + slot.id() + " drive, the clone none (a clone needs every drive slot of its template)");
            } else if (!slot.id().equals("data") && wanted > slot.bytes()) {
                out.add("the clone's " + slot.id() + " drive needs " + wanted + " bytes, the snapshot's slot holds " + slot.bytes());
            }
        }
        for (String id : new TreeSet<>(clone.driveSlots().keySet())) {
            if (snapshot.driveSlots().stream().noneMatch(s -> s.id().equals(id))) {
                out.add("the clone has a " + id + " drive, the snapshot none (a guest cannot see a device added after it booted)");
            }
        }
        if (snapshot.nic() != clone.nic()) {
            out.add(snapshot.nic() ? "the snapshot has a NIC, the clone none" : "the clone has a NIC, the snapshot none");
        }
        return out;
    }

    private static void differ(List<String> out, String what, Object snapshot, Object clone) {
        if (!Objects.equals(snapshot, clone)) {
            out.add(what + ": snapshot " + snapshot + ", clone " + clone);
        }
    }
}
