package io.mvm.core.template;

import java.time.Instant;

/**
 * A snapshot taken of a booted template revision, restorable only with the same boot arguments,
 * vCPUs and memory (seed mvm-core-template.rs). No builder writes one yet; the field exists so
 * revisions that gain one later keep loading.
 */
public record SnapshotInfo(Instant createdAt, long vmstateSizeBytes, long memSizeBytes, String bootArgs, int vcpus, int memMib) {}
