package io.mvm.core.template;

import java.util.Optional;
import java.util.OptionalLong;

/**
 * One file of a revision, relative to the revision's directory.
 *
 * @param role   what it is: {@code kernel}, {@code initramfs}, {@code rootfs}, {@code base-config}
 * @param size   bytes; empty in revisions written before sizes were recorded (schema 1)
 * @param sha256 hex digest; empty in schema-1 revisions, which recorded paths only
 */
public record ArtifactFile(String role, String path, OptionalLong size, Optional<String> sha256) {
    public static final String KERNEL = "kernel";
    public static final String INITRAMFS = "initramfs";
    public static final String ROOTFS = "rootfs";
    public static final String BASE_CONFIG = "base-config";

    public static ArtifactFile of(String role, String path, long size, String sha256) {
        return new ArtifactFile(role, path, OptionalLong.of(size), Optional.of(sha256));
    }
}
