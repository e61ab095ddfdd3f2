package io.mvm.runtime.template;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.mvm.core.template.ArtifactFile;
import io.mvm.core.template.CacheKey;
import io.mvm.core.template.DefaultWorkload;
import io.mvm.core.template.SnapshotInfo;
import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateRevision;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * The on-disk form of a {@link TemplateRevision} ({@code revision.json}). Every file carries
 * {@code schema_version}; this class writes the current one and reads every older one, so a
 * revision built by an earlier mvm keeps loading:
 *
 * <ul>
 *   <li>1 (or absent): the seed's shape — {@code flake_ref}, {@code flake_lock_hash} and
 *       {@code artifact_paths} (vmlinux, rootfs, fc_base_config, initrd) without digests. Such a
 *       revision loads with no recipe, so it is never a cache hit for a new build.</li>
 *   <li>2: source identity of any builder, artifacts with sizes and sha256, the builder recipe,
 *       the image's default workload; a {@code snapshot} only in the seed's shape.</li>
 *   <li>3: as 2, with the golden snapshot's backend, version, accelerator, image digests and the
 *       sizes and sha256 of its files ({@code mvm template build --snapshot}).</li>
 * </ul>
 * A file from a newer mvm is refused rather than half-read.
 */
public final class TemplateRevisionJson {
    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .setSerializationInclusion(JsonInclude.Include.NON_NULL)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private TemplateRevisionJson() {}

    record SourceV2(String kind, String reference, String lockHash) {}

    record ArtifactV2(String role, String path, Long size, String sha256) {}

    /** run_as was added within schema 2: absent (an earlier build) reads as root, as such builds ran. */
    record WorkloadV2(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir, String user, String runAs) {}

    record SnapshotV2(String createdAt, long vmstateSizeBytes, long memSizeBytes, String bootArgs, int vcpus, int memMib) {}

    record SnapshotFileV3(String name, long size, String sha256) {}

    record SnapshotV3(String createdAt, long vmstateSizeBytes, long memSizeBytes, String bootArgs, int vcpus, int memMib,
                      String directory, String backend, String backendVersion, String accelerator,
                      java.util.Map<String, String> imageSha256, List<SnapshotFileV3> files, List<String> readiness) {}

    record RevisionV3(int schemaVersion, String revisionHash, String templateId, SourceV2 source, String cacheKey,
                      String builderRecipe, List<ArtifactV2> artifacts, String kernelVersion, String bootArgs, String builtAt, String profile, String role,
                      int vcpus, int memMib, int dataDiskMib, WorkloadV2 workload, SnapshotV3 snapshot) {}

    record RevisionV2(int schemaVersion, String revisionHash, String templateId, SourceV2 source, String cacheKey,
                      String builderRecipe, List<ArtifactV2> artifacts, String kernelVersion, String bootArgs, String builtAt, String profile, String role,
                      int vcpus, int memMib, int dataDiskMib, WorkloadV2 workload, SnapshotV2 snapshot) {}

    /** The seed's ArtifactPaths. */
    record ArtifactPathsV1(String vmlinux, String rootfs, String fcBaseConfig, String initrd) {}

    record RevisionV1(String revisionHash, String flakeRef, String flakeLockHash, ArtifactPathsV1 artifactPaths,
                      String builtAt, String profile, String role, int vcpus, int memMib, int dataDiskMib, SnapshotV2 snapshot) {}

    /** Always in the current schema: a revision read from an older file is written in today's shape. */
    public static byte[] write(TemplateRevision revision) {
        RevisionV3 out = new RevisionV3(TemplateRevision.CURRENT_SCHEMA_VERSION, revision.revisionHash(), revision.templateId(),
                new SourceV2(revision.source().kind(), revision.source().reference(), revision.source().lockHash()),
                revision.cacheKey(), revision.builderRecipe(),
                revision.artifacts().stream().map(a -> new ArtifactV2(a.role(), a.path(),
                        a.size().isPresent() ? a.size().getAsLong() : null, a.sha256().orElse(null))).toList(),
                revision.kernelVersion(), revision.bootArgs(), revision.builtAt().toString(), revision.profile(), revision.role().wireName(),
                revision.vcpus(), revision.memMib(), revision.dataDiskMib(),
                revision.workload().map(w -> new WorkloadV2(w.entrypoint(), w.cmd(), w.env(), w.workingDir(), w.user(), w.runAs())).orElse(null),
                revision.snapshot().map(TemplateRevisionJson::snapshotOut).orElse(null));
        try {
            return JSON.writeValueAsBytes(out);
        } catch (IOException e) {
            throw MvmException.internal("cannot encode revision " + revision.revisionHash(), e);
        }
    }

    /**
     * @param templateId the template whose directory the file was found in; schema 1 did not record it
     */
    public static TemplateRevision read(byte[] content, String templateId) {
        try {
            JsonNode tree = JSON.readTree(content);
            if (tree == null || !tree.isObject()) {
                throw MvmException.invalid("a revision file must be a JSON object");
            }
            int schema = tree.path("schema_version").asInt(1);
            return switch (schema) {
                case 1 -> fromV1(JSON.treeToValue(tree, RevisionV1.class), templateId);
                case 2 -> fromV2(JSON.treeToValue(tree, RevisionV2.class));
                case 3 -> fromV3(JSON.treeToValue(tree, RevisionV3.class));
                default -> throw MvmException.precondition("revision schema " + schema
                        + " was written by a newer mvm (this one reads up to " + TemplateRevision.CURRENT_SCHEMA_VERSION + ")");
            };
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw MvmException.invalid("not a revision file: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw MvmException.invalid("not a revision file: " + e.getMessage());
        }
    }

    private static TemplateRevision fromV2(RevisionV2 in) {
        List<ArtifactFile> artifacts = in.artifacts() == null ? List.of() : in.artifacts().stream()
                .map(a -> new ArtifactFile(a.role(), a.path(), a.size() == null ? OptionalLong.empty() : OptionalLong.of(a.size()),
                        Optional.ofNullable(a.sha256())))
                .toList();
        Optional<DefaultWorkload> workload = Optional.ofNullable(in.workload()).map(w -> new DefaultWorkload(
                orEmpty(w.entrypoint()), orEmpty(w.cmd()), orEmpty(w.env()), w.workingDir(), w.user(), w.runAs()));
        return new TemplateRevision(2, in.revisionHash(), in.templateId(),
                new SourceIdentity(in.source().kind(), in.source().reference(), in.source().lockHash()),
                in.cacheKey(), in.builderRecipe() == null ? "" : in.builderRecipe(), artifacts, in.kernelVersion(), in.bootArgs(),
                Instant.parse(in.builtAt()),
                in.profile(), Role.parse(in.role()), in.vcpus(), in.memMib(), in.dataDiskMib(), workload,
                Optional.ofNullable(in.snapshot()).map(TemplateRevisionJson::snapshotIn));
    }

    private static TemplateRevision fromV3(RevisionV3 in) {
        TemplateRevision shape = fromV2(new RevisionV2(2, in.revisionHash(), in.templateId(), in.source(), in.cacheKey(),
                in.builderRecipe(), in.artifacts(), in.kernelVersion(), in.bootArgs(), in.builtAt(), in.profile(), in.role(), in.vcpus(),
                in.memMib(), in.dataDiskMib(), in.workload(), null));
        return shape.withSnapshot(Optional.ofNullable(in.snapshot()).map(TemplateRevisionJson::snapshotInV3));
    }

    private static TemplateRevision fromV1(RevisionV1 in, String templateId) {
        List<ArtifactFile> artifacts = new ArrayList<>();
        ArtifactPathsV1 paths = in.artifactPaths();
        if (paths != null) {
            addPath(artifacts, ArtifactFile.KERNEL, paths.vmlinux());
            addPath(artifacts, ArtifactFile.INITRAMFS, paths.initrd());
            addPath(artifacts, ArtifactFile.ROOTFS, paths.rootfs());
            addPath(artifacts, ArtifactFile.BASE_CONFIG, paths.fcBaseConfig());
        }
        Role role = Role.parse(in.role());
        return new TemplateRevision(1, in.revisionHash(), templateId,
                new SourceIdentity("nix", in.flakeRef(), in.flakeLockHash()),
                CacheKey.of(in.flakeLockHash(), in.profile(), role), "", artifacts, "", "", Instant.parse(in.builtAt()),
                in.profile(), role, in.vcpus(), in.memMib(), in.dataDiskMib(), Optional.empty(),
                Optional.ofNullable(in.snapshot()).map(TemplateRevisionJson::snapshotIn));
    }

    private static void addPath(List<ArtifactFile> artifacts, String role, String path) {
        if (path != null && !path.isBlank()) {
            artifacts.add(new ArtifactFile(role, path, OptionalLong.empty(), Optional.empty()));
        }
    }

    private static SnapshotV3 snapshotOut(SnapshotInfo s) {
        return new SnapshotV3(s.createdAt().toString(), s.vmstateSizeBytes(), s.memSizeBytes(), s.bootArgs(), s.vcpus(), s.memMib(),
                s.directory(), s.backend(), s.backendVersion(), s.accelerator(), s.imageSha256(),
                s.files().stream().map(f -> new SnapshotFileV3(f.name(), f.size(), f.sha256())).toList(), s.readiness().orElse(null));
    }

    private static SnapshotInfo snapshotInV3(SnapshotV3 s) {
        return new SnapshotInfo(Instant.parse(s.createdAt()), s.vmstateSizeBytes(), s.memSizeBytes(), s.bootArgs(), s.vcpus(), s.memMib(),
                s.directory(), s.backend(), s.backendVersion(), s.accelerator(), s.imageSha256(),
                s.files() == null ? List.of() : s.files().stream().map(f -> new SnapshotInfo.SnapshotFile(f.name(), f.size(), f.sha256())).toList(),
                Optional.ofNullable(s.readiness()));
    }

    private static SnapshotInfo snapshotIn(SnapshotV2 s) {
        return new SnapshotInfo(Instant.parse(s.createdAt()), s.vmstateSizeBytes(), s.memSizeBytes(), s.bootArgs(), s.vcpus(), s.memMib());
    }

    private static List<String> orEmpty(List<String> list) {
        return list == null ? List.of() : list;
    }
}
