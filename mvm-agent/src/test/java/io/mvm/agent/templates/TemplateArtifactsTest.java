package io.mvm.agent.templates;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.reconcile.InstanceSpec;
import io.mvm.core.reconcile.NetworkSpec;
import io.mvm.core.reconcile.TemplatePin;
import io.mvm.core.template.ArtifactFile;
import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateRevision;
import io.mvm.model.InstanceId;
import io.mvm.model.PoolName;
import io.mvm.model.Role;
import io.mvm.model.TenantId;
import io.mvm.runtime.template.TemplateBoot;
import io.mvm.runtime.template.TemplateRevisionJson;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's side of artifacts by digest, against an in-memory source that can cut a download
 * short or lie: a pinned revision is fetched once into the cache (revision record + hard links),
 * a cut download resumes at the byte it reached, a lying source is refused and nothing is kept,
 * and garbage collection keeps what a VM uses and removes the rest.
 */
class TemplateArtifactsTest {
    @TempDir Path dataDir;

    /** Serves files by digest; may cut the next response after {@code cutAfter} bytes or corrupt one. */
    static final class FakeSource implements ArtifactSource {
        final Map<String, byte[]> blobs = new LinkedHashMap<>();
        final Map<String, byte[]> records = new LinkedHashMap<>();
        final List<String> requests = new ArrayList<>();
        long cutAfter = -1;
        boolean corrupt;

        @Override
        public byte[] revisionRecord(String template, String revision) {
            requests.add("record " + template + " " + revision);
            return records.get(template + "/" + revision);
        }

        @Override
        public Ranged artifact(String sha256, long offset) {
            requests.add("artifact " + sha256.substring(0, 8) + " from " + offset);
            byte[] all = blobs.get(sha256).clone();
            if (corrupt) {
                all[all.length - 1] ^= 1;
            }
            byte[] part = Arrays.copyOfRange(all, (int) offset, all.length);
            long cut = cutAfter;
            cutAfter = -1;
            InputStream body = cut < 0 ? new ByteArrayInputStream(part) : new InputStream() {
                int pos;

                @Override
                public int read() throws IOException {
                    if (pos >= cut) {
                        throw new IOException("connection reset (test)");
                    }
                    return pos < part.length ? part[pos++] & 0xff : -1;
                }
            };
            return new Ranged(offset, body);
        }
    }

    static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private TemplatePin publish(FakeSource source, String template, String seed) throws Exception {
        Map<String, String> paths = Map.of(ArtifactFile.KERNEL, "vmlinuz", ArtifactFile.INITRAMFS, "initramfs.cpio.gz",
                ArtifactFile.ROOTFS, "rootfs.ext4");
        List<ArtifactFile> files = new ArrayList<>();
        List<TemplatePin.Artifact> pinned = new ArrayList<>();
        for (var e : paths.entrySet()) {
            byte[] bytes = (e.getKey() + " of " + seed + "\n").repeat(5000).getBytes(StandardCharsets.UTF_8);
            String digest = sha256(bytes);
            source.blobs.put(digest, bytes);
            files.add(ArtifactFile.of(e.getKey(), e.getValue(), bytes.length, digest));
            pinned.add(new TemplatePin.Artifact(e.getKey(), e.getValue(), bytes.length, digest));
        }
        String hash = sha256(seed.getBytes(StandardCharsets.UTF_8));
        TemplateRevision r = new TemplateRevision(2, hash, template, new SourceIdentity("oci", "img", "sha256:x"),
                "k", "recipe", files, "6.1.0-test", "console=ttyS0", Instant.parse("2026-12-03T12:00:00Z"), "minimal",
                Role.WORKER, 1, 256, 0, Optional.empty(), Optional.empty());
        source.records.put(template + "/" + hash, TemplateRevisionJson.write(r));
        return new TemplatePin(template, hash, pinned);
    }

    private static InstanceSpec spec(String id, TemplatePin pin) {
        return new InstanceSpec(InstanceId.of(id), TenantId.of("acme"), PoolName.of("web"), Role.WORKER, 1, 256, 0,
                new NetworkSpec("10.0.0.2", 24, "10.0.0.1", Optional.empty(), 1), List.of(), Map.of("A", "1"), Map.of(),
                Map.of(), "r1", Optional.of(pin.template()), Optional.of(pin));
    }

    @Test
    void aPinnedRevisionIsFetchedOnceByDigestAndBootsFromTheCache() throws Exception {
        FakeSource source = new FakeSource();
        TemplatePin pin = publish(source, "web-worker", "one");
        TemplateArtifacts artifacts = new TemplateArtifacts(dataDir, Optional.of(source), InstantSource.system());

        TemplateBoot boot = artifacts.boot(spec("i-1", pin), null, Map.of("A", "1"));
        Path dir = dataDir.resolve("artifacts-cache/revisions/web-worker/" + pin.revision());
        assertThat(boot.image().rootfs()).isEqualTo(dir.resolve("rootfs.ext4"));
        assertThat(boot.image().kernelVersion()).isEqualTo("6.1.0-test");
        for (TemplatePin.Artifact a : pin.artifacts()) {
            Path cached = dataDir.resolve("artifacts-cache/sha256/" + a.sha256());
            assertThat(Files.readAllBytes(cached)).isEqualTo(source.blobs.get(a.sha256()));
            assertThat(Files.isSameFile(cached, dir.resolve(a.path()))).as("hard link").isTrue();
        }
        assertThat(artifacts.booted(InstanceId.of("i-1"))).contains(new TemplateArtifacts.Booted("web-worker", pin.revision()));
        int fetched = source.requests.size();
        artifacts.boot(spec("i-2", pin), null, Map.of());
        assertThat(source.requests).as("a second instance fetches nothing").hasSize(fetched);
        assertThat(dataDir.resolve("artifacts-cache/partial")).isEmptyDirectory();
    }

    @Test
    void aCutDownloadResumesWhereItStoppedAndALyingSourceKeepsNothing() throws Exception {
        FakeSource source = new FakeSource();
        TemplatePin pin = publish(source, "web-worker", "two");
        TemplatePin.Artifact rootfs = pin.artifacts().stream().filter(a -> a.role().equals("rootfs")).findFirst().orElseThrow();
        TemplateArtifacts artifacts = new TemplateArtifacts(dataDir, Optional.of(source), InstantSource.system());

        source.cutAfter = 1000;
        assertThatThrownBy(() -> artifacts.fetch(source, rootfs)).hasMessageContaining("connection reset");
        assertThat(Files.size(dataDir.resolve("artifacts-cache/partial/" + rootfs.sha256()))).isEqualTo(1000);
        Path done = artifacts.fetch(source, rootfs);
        assertThat(source.requests).containsSubsequence("artifact " + rootfs.sha256().substring(0, 8) + " from 0",
                "artifact " + rootfs.sha256().substring(0, 8) + " from 1000");
        assertThat(TemplateArtifacts.sha256(done)).isEqualTo(rootfs.sha256());

        FakeSource liar = new FakeSource();
        TemplatePin other = publish(liar, "web-worker", "three");
        liar.corrupt = true;
        TemplateArtifacts fresh = new TemplateArtifacts(dataDir.resolve("other"), Optional.of(liar), InstantSource.system());
        assertThatThrownBy(() -> fresh.boot(spec("i-3", other), null, Map.of())).hasMessageContaining("hashes to sha256:");
        assertThat(dataDir.resolve("other/artifacts-cache/sha256")).isEmptyDirectory();
        assertThat(dataDir.resolve("other/artifacts-cache/partial")).isEmptyDirectory();
        assertThat(dataDir.resolve("other/artifacts-cache/revisions/web-worker")).isEmptyDirectory();
    }

    @Test
    void garbageCollectionRemovesRevisionsNoVmUsesAndTheFilesOnlyTheyLinked() throws Exception {
        FakeSource source = new FakeSource();
        TemplatePin first = publish(source, "web-worker", "first");
        TemplatePin second = publish(source, "web-worker", "second");
        TemplateArtifacts artifacts = new TemplateArtifacts(dataDir, Optional.of(source), InstantSource.system());
        artifacts.boot(spec("i-1", first), null, Map.of());
        artifacts.boot(spec("i-2", second), null, Map.of());
        // Fresh revisions stay (an instance is being created from them).
        assertThat(artifacts.collectGarbage(TemplateArtifacts.KEEP_FRESH)).isZero();
        assertThat(artifacts.collectGarbage(Duration.ZERO.minusSeconds(1))).isEqualTo(2 + 6);
        assertThat(dataDir.resolve("artifacts-cache/revisions/web-worker")).isEmptyDirectory();
        assertThat(dataDir.resolve("artifacts-cache/sha256")).isEmptyDirectory();
        // Fetched again on demand.
        artifacts.boot(spec("i-3", first), null, Map.of());
        assertThat(dataDir.resolve("artifacts-cache/revisions/web-worker/" + first.revision() + "/rootfs.ext4")).exists();
    }
}
