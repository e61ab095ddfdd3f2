package io.mvm.core.template;

import io.mvm.model.Role;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * One build of one template variant: what it was built from, the files it produced (with sizes and
 * digests), when, and for which profile, role and resources. Revisions are immutable once written;
 * a template's {@code current} revision is the one new VMs boot.
 *
 * @param schemaVersion the shape of the file this was read from ({@link #CURRENT_SCHEMA_VERSION}
 *                      for new ones); older files still load
 * @param revisionHash  names the revision's directory; derived from the cache key and the builder
 *                      recipe, so equal inputs give the same revision
 * @param cacheKey      {@link CacheKey#of}: lock hash, profile and role
 * @param builderRecipe what of mvm went into the image (guest init and agent, base kernel and
 *                      initramfs): a revision with the same cache key but another recipe is stale
 * @param kernelVersion the guest kernel in {@code artifacts} (empty when a schema-1 file did not say)
 * @param bootArgs      the kernel command line that kernel and initramfs need; per-VM arguments are
 *                      appended to it
 * @param workload      the image's own default workload (OCI Entrypoint/Cmd/...), when it has one
 */
public record TemplateRevision(
        int schemaVersion,
        String revisionHash,
        String templateId,
        SourceIdentity source,
        String cacheKey,
        String builderRecipe,
        List<ArtifactFile> artifacts,
        String kernelVersion,
        String bootArgs,
        Instant builtAt,
        String profile,
        Role role,
        int vcpus,
        int memMib,
        int dataDiskMib,
        Optional<DefaultWorkload> workload,
        Optional<SnapshotInfo> snapshot) {

    /**
     * 1: the seed's shape (flake_ref, flake_lock_hash, artifact_paths without digests). 2: this
     * record with the seed's snapshot fields. 3: this record, the snapshot with its backend,
     * accelerator, image digests and file checksums.
     */
    public static final int CURRENT_SCHEMA_VERSION = 3;

    public TemplateRevision {
        artifacts = List.copyOf(artifacts);
        kernelVersion = kernelVersion == null ? "" : kernelVersion;
        bootArgs = bootArgs == null ? "" : bootArgs;
        workload = workload == null ? Optional.empty() : workload;
        snapshot = snapshot == null ? Optional.empty() : snapshot;
    }

    /** The revision hash for a build with this cache key by this recipe. */
    public static String revisionHashOf(String cacheKey, String builderRecipe) {
        return CacheKey.sha256Hex(cacheKey + ":" + builderRecipe);
    }

    /** The same revision with (or without) a golden snapshot, as the current schema writes it. */
    public TemplateRevision withSnapshot(Optional<SnapshotInfo> golden) {
        return new TemplateRevision(CURRENT_SCHEMA_VERSION, revisionHash, templateId, source, cacheKey, builderRecipe, artifacts,
                kernelVersion, bootArgs, builtAt, profile, role, vcpus, memMib, dataDiskMib, workload, golden);
    }

    public Optional<ArtifactFile> artifact(String role) {
        return artifacts.stream().filter(a -> a.role().equals(role)).findFirst();
    }
}
