package io.mvm.core.template;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * Whether a template revision's golden snapshot may be restored for a new VM, decided from the
 * revision record alone (nothing is read or hashed): a snapshot holds a running kernel that booted
 * with exact vCPUs, memory, boot arguments and image files, on one QEMU version and accelerator, and
 * restoring it with any of these changed fails inside the VMM or, worse, "works" and corrupts the
 * guest. Every difference is named, so a caller can say why it cold-boots instead.
 */
public final class SnapshotRestoreCheck {
    private SnapshotRestoreCheck() {}

    /**
     * What the new VM would run with.
     *
     * @param imageSha256 sha256 of the image files by role ({@code kernel}, {@code initramfs}, {@code rootfs})
     */
    public record Target(String backend, String backendVersion, String accelerator, int vcpus, long memMib, String bootArgs,
                         Map<String, String> imageSha256) {
        public Target {
            imageSha256 = Map.copyOf(imageSha256);
        }
    }

    /** Every difference as a readable phrase ({@code vCPUs: snapshot 1, this VM 2}); empty when it may be restored. */
    public static List<String> differences(SnapshotInfo snapshot, Target target) {
        List<String> out = new ArrayList<>();
        if (!snapshot.checkable()) {
            out.add("the snapshot record has no backend or file checksums (written before mvm recorded them)");
            return out;
        }
        differ(out, "backend", snapshot.backend(), target.backend());
        differ(out, "QEMU version", snapshot.backendVersion(), target.backendVersion());
        differ(out, "accelerator", snapshot.accelerator(), target.accelerator());
        differ(out, "vCPUs", snapshot.vcpus(), target.vcpus());
        differ(out, "memory (MiB)", (long) snapshot.memMib(), target.memMib());
        differ(out, "boot args", snapshot.bootArgs(), target.bootArgs());
        TreeSet<String> roles = new TreeSet<>(snapshot.imageSha256().keySet());
        roles.addAll(target.imageSha256().keySet());
        for (String role : roles) {
            differ(out, "image " + role + " sha256", shortHash(snapshot.imageSha256().get(role)), shortHash(target.imageSha256().get(role)));
        }
        return out;
    }

    private static String shortHash(String hash) {
        return hash == null ? "none" : hash.length() > 16 ? hash.substring(0, 16) : hash;
    }

    private static void differ(List<String> out, String what, Object snapshot, Object target) {
        if (!Objects.equals(snapshot, target)) {
            out.add(what + ": snapshot " + snapshot + ", this VM " + target);
        }
    }
}
