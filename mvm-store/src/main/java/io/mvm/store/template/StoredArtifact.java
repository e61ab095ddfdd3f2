package io.mvm.store.template;

/** One file of a revision: its role (kernel, initramfs, rootfs, ...), path in the revision, size and digest. */
public record StoredArtifact(String role, String path, long size, String sha256) {}
