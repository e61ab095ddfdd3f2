package io.mvm.core.template;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The golden snapshot of a booted template revision, as the revision record carries it (seed
 * mvm-core-template.rs: created_at, vmstate and memory sizes, boot args, vCPUs, memory), plus what
 * mvm needs to decide whether a clone may restore it and whether its files are intact: the backend,
 * its version and accelerator, the image's digests, and every snapshot file with size and sha256.
 * A restore is valid only with all of these equal ({@code TemplateSnapshotChoice} in mvm-runtime).
 *
 * @param directory   the snapshot's directory, relative to the revision directory (seed: {@code snapshot})
 * @param bootArgs    the image's boot arguments the template booted with
 * @param imageSha256 sha256 of kernel, initramfs and rootfs by role, as the snapshotted guest booted them
 * @param files       every file of the snapshot directory with size and sha256 (empty for a seed-shaped
 *                    record, which then cannot be checked and is never restored)
 */
public record SnapshotInfo(Instant createdAt, long vmstateSizeBytes, long memSizeBytes, String bootArgs, int vcpus, int memMib,
                           String directory, String backend, String backendVersion, String accelerator,
                           Map<String, String> imageSha256, List<SnapshotFile> files, Optional<List<String>> readiness) {

    /** The seed's directory name inside a revision. */
    public static final String DIRECTORY = "snapshot";

    public SnapshotInfo {
        directory = directory == null || directory.isBlank() ? DIRECTORY : directory;
        backend = backend == null ? "" : backend;
        backendVersion = backendVersion == null ? "" : backendVersion;
        accelerator = accelerator == null ? "" : accelerator;
        imageSha256 = imageSha256 == null ? Map.of() : Map.copyOf(imageSha256);
        files = files == null ? List.of() : List.copyOf(files);
        readiness = readiness == null ? Optional.empty() : readiness.map(List::copyOf);
    }

    /** The seed's fields only (a revision written by the seed's tools, or by mvm before schema 3). */
    public SnapshotInfo(Instant createdAt, long vmstateSizeBytes, long memSizeBytes, String bootArgs, int vcpus, int memMib) {
        this(createdAt, vmstateSizeBytes, memSizeBytes, bootArgs, vcpus, memMib, DIRECTORY, "", "", "", Map.of(), List.of(),
                Optional.empty());
    }

    /** Whether this record carries checksums of its files, without which mvm never restores it. */
    public boolean checkable() {
        return !files.isEmpty() && !backend.isEmpty();
    }

    /** One file of the snapshot: its name inside the snapshot directory, size and sha256. */
    public record SnapshotFile(String name, long size, String sha256) {}
}
