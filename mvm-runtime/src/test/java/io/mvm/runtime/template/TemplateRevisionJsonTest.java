package io.mvm.runtime.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.template.ArtifactFile;
import io.mvm.core.template.CacheKey;
import io.mvm.core.template.DefaultWorkload;
import io.mvm.core.template.SnapshotInfo;
import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateRevision;
import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.model.Role;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TemplateRevisionJsonTest {

    static TemplateRevision sample() {
        String key = CacheKey.of("sha256:m1", "minimal", Role.WORKER);
        return new TemplateRevision(TemplateRevision.CURRENT_SCHEMA_VERSION, TemplateRevision.revisionHashOf(key, "recipe-1"),
                "web-worker", new SourceIdentity("oci", "/srv/web (ref latest)", "sha256:m1"), key, "recipe-1",
                List.of(ArtifactFile.of("rootfs", "rootfs.ext4", 4096, "ab".repeat(32)),
                        ArtifactFile.of("kernel", "vmlinuz", 10, "cd".repeat(32))),
                "6.12.1-cloud-amd64", "console=ttyS0", Instant.parse("2026-12-03T09:00:00Z"), "minimal", Role.WORKER, 1, 256, 64,
                Optional.of(new DefaultWorkload(List.of("/app/serve"), List.of("--port", "80"), List.of("A=1"), "/app", "1000", "app")),
                Optional.of(new SnapshotInfo(Instant.parse("2026-12-03T10:00:00Z"), 63_000, 256L << 20, "console=ttyS0", 1, 256,
                        "snapshot", "qemu", "7.2.22", "tcg", Map.of("kernel", "cd".repeat(32), "rootfs", "ab".repeat(32)),
                        List.of(new SnapshotInfo.SnapshotFile("vmstate.bin", 63_000, "ef".repeat(32)),
                                new SnapshotInfo.SnapshotFile("memory.ram", 256L << 20, "01".repeat(32))),
                        Optional.of(List.of("/app/ready", "--quick")))));
    }

    @Test
    void theCurrentSchemaRoundTrips() {
        TemplateRevision revision = sample();
        byte[] json = TemplateRevisionJson.write(revision);
        assertThat(new String(json, StandardCharsets.UTF_8)).contains("\"schema_version\" : 3", "\"cache_key\"", "\"mem_mib\" : 256",
                "\"backend_version\" : \"7.2.22\"", "\"image_sha256\"", "\"readiness\"");
        assertThat(TemplateRevisionJson.read(json, "ignored")).isEqualTo(revision);
        assertThat(revision.snapshot().orElseThrow().checkable()).isTrue();
    }

    @Test
    void aSchemaTwoFileWithTheSeedsSnapshotLoadsAndIsWrittenAsThree() {
        String v2 = """
                {"schema_version": 2, "revision_hash": "%s", "template_id": "web-worker",
                 "source": {"kind": "oci", "reference": "/srv/web", "lock_hash": "sha256:m1"}, "cache_key": "k", "builder_recipe": "r",
                 "artifacts": [{"role": "rootfs", "path": "rootfs.ext4", "size": 4096, "sha256": "%s"}],
                 "kernel_version": "6.12", "boot_args": "console=ttyS0", "built_at": "2026-12-01T00:00:00Z", "profile": "minimal",
                 "role": "worker", "vcpus": 1, "mem_mib": 256, "data_disk_mib": 0,
                 "snapshot": {"created_at": "2026-12-02T00:00:00Z", "vmstate_size_bytes": 512, "mem_size_bytes": 2048,
                              "boot_args": "console=ttyS0", "vcpus": 1, "mem_mib": 256}}""".formatted("ab".repeat(16), "cd".repeat(32));
        TemplateRevision revision = TemplateRevisionJson.read(v2.getBytes(StandardCharsets.UTF_8), "web-worker");
        assertThat(revision.schemaVersion()).isEqualTo(2);
        SnapshotInfo snapshot = revision.snapshot().orElseThrow();
        assertThat(snapshot.memSizeBytes()).isEqualTo(2048);
        assertThat(snapshot.directory()).isEqualTo("snapshot");
        assertThat(snapshot.checkable()).as("no checksums: never restored").isFalse();
        TemplateRevision again = TemplateRevisionJson.read(TemplateRevisionJson.write(revision), "web-worker");
        assertThat(again.schemaVersion()).isEqualTo(3);
        assertThat(again.snapshot()).contains(snapshot);
        assertThat(again.artifacts()).isEqualTo(revision.artifacts());
    }

    @Test
    void aSeedShapedSchemaOneFileStillLoads() {
        // The seed's own test document (mvm-core-template.rs, revision_without_snapshot_deserializes).
        String seed = """
                {
                    "revision_hash": "abc",
                    "flake_ref": ".",
                    "flake_lock_hash": "lock1",
                    "artifact_paths": {
                        "vmlinux": "vmlinux",
                        "rootfs": "rootfs.ext4",
                        "fc_base_config": "fc-base.json"
                    },
                    "built_at": "2025-01-01T00:00:00Z",
                    "profile": "minimal",
                    "role": "worker",
                    "vcpus": 2,
                    "mem_mib": 1024,
                    "data_disk_mib": 0
                }""";
        TemplateRevision revision = TemplateRevisionJson.read(seed.getBytes(StandardCharsets.UTF_8), "legacy");
        assertThat(revision.schemaVersion()).isEqualTo(1);
        assertThat(revision.templateId()).isEqualTo("legacy");
        assertThat(revision.source()).isEqualTo(new SourceIdentity("nix", ".", "lock1"));
        assertThat(revision.cacheKey()).isEqualTo(CacheKey.of("lock1", "minimal", Role.WORKER));
        assertThat(revision.builderRecipe()).isEmpty();
        assertThat(revision.artifacts()).extracting(ArtifactFile::role, ArtifactFile::path).containsExactly(
                org.assertj.core.groups.Tuple.tuple("kernel", "vmlinux"),
                org.assertj.core.groups.Tuple.tuple("rootfs", "rootfs.ext4"),
                org.assertj.core.groups.Tuple.tuple("base-config", "fc-base.json"));
        assertThat(revision.artifacts()).allSatisfy(a -> assertThat(a.sha256()).isEmpty());
        assertThat(revision.snapshot()).isEmpty();
        assertThat(revision.vcpus()).isEqualTo(2);
    }

    @Test
    void aSchemaOneFileWithASnapshotLoadsIt() {
        String seed = """
                {"schema_version": 1, "revision_hash": "abc", "flake_ref": ".", "flake_lock_hash": "l",
                 "artifact_paths": {"vmlinux": "vmlinux", "rootfs": "rootfs.ext4", "fc_base_config": "fc.json", "initrd": "initrd"},
                 "built_at": "2025-01-01T00:00:00Z", "profile": "minimal", "role": "gateway", "vcpus": 2, "mem_mib": 1024,
                 "data_disk_mib": 0, "snapshot": {"created_at": "2025-03-01T00:00:00Z", "vmstate_size_bytes": 512,
                 "mem_size_bytes": 2048, "boot_args": "console=ttyS0", "vcpus": 2, "mem_mib": 1024}}""";
        TemplateRevision revision = TemplateRevisionJson.read(seed.getBytes(StandardCharsets.UTF_8), "gw");
        assertThat(revision.snapshot()).get().extracting(SnapshotInfo::memSizeBytes).isEqualTo(2048L);
        assertThat(revision.artifact("initramfs")).get().extracting(ArtifactFile::path).isEqualTo("initrd");
    }

    @Test
    void aFileFromANewerMvmIsRefusedNotHalfRead() {
        assertThatThrownBy(() -> TemplateRevisionJson.read("{\"schema_version\": 4}".getBytes(StandardCharsets.UTF_8), "x"))
                .isInstanceOfSatisfying(MvmException.class, e -> {
                    assertThat(e.category()).isEqualTo(ErrorCategory.FAILED_PRECONDITION);
                    assertThat(e.getMessage()).contains("newer mvm");
                });
        assertThatThrownBy(() -> TemplateRevisionJson.read("[1]".getBytes(StandardCharsets.UTF_8), "x"))
                .hasMessageContaining("JSON object");
    }
}
