package io.mvm.runtime.template.oci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateSource;
import io.mvm.core.template.TemplateVariant;
import io.mvm.model.Role;
import io.mvm.runtime.image.HostProgram;
import io.mvm.runtime.image.ImageBuilder;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.template.BaseImage;
import io.mvm.runtime.template.BuildOutcome;
import io.mvm.runtime.template.GuestAgentInjection;
import io.mvm.runtime.template.RootUser;
import io.mvm.runtime.template.TemplateBuildException;
import io.mvm.runtime.template.TemplateStore;
import io.mvm.runtime.testing.HostCapabilities;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OCI builder end to end on the host (no VM): a real rootfs.ext4 whose content debugfs reads
 * back, cache hits (also for the same image given as an archive), and broken inputs that fail with
 * a clear error while the previous revision stays current and nothing is left behind.
 */
class OciTemplateBuildIT {
    @TempDir
    Path data;
    TemplateStore store;
    OciTemplateBuilder builder;
    final List<String> progress = new CopyOnWriteArrayList<>();
    final TemplateId id = new TemplateId("site-worker");
    final TemplateVariant variant = new TemplateVariant("site-worker", Role.WORKER, "minimal", 1, 128, 0);

    @BeforeEach
    void setUp() {
        HostCapabilities.require(RootUser.isRoot(), "root (the unpacker sets file owners)");
        HostCapabilities.require(ImageBuilder.load(HostCapabilities.testDataDir(), "default").isPresent(),
                "the default guest image in " + HostCapabilities.testDataDir() + " (mvm bootstrap --data-dir ...)");
        store = new TemplateStore(data, InstantSource.system());
        builder = new OciTemplateBuilder(store, BaseImage.ofDefaultImage(HostCapabilities.testDataDir()),
                GuestAgentInjection.withHostBusybox(), UnpackLimits.DEFAULT, data.resolve("tmp"));
    }

    private BuildOutcome build(TemplateSource.Location location) {
        return builder.build(id, new TemplateSource.Oci(location, Optional.empty()), data, variant, false, progress::add);
    }

    private static void writeImage(Path layout, String content) throws Exception {
        OciTestImages.writeLayout(layout, OciTestImages.config(List.of("/hello"), List.of(), List.of(), "", ""),
                List.of(new OciTestImages.Layer().dir("srv", 0750, 33, 33).file("srv/page", content, 0640, 33, 33)));
    }

    @Test
    void aLayoutBuildsARootfsAndTheSameImageAsAnArchiveIsACacheHit() throws Exception {
        writeImage(data.resolve("layout"), "v1");
        BuildOutcome first = build(new TemplateSource.Location.LayoutDirectory("layout"));
        assertThat(first).isInstanceOf(BuildOutcome.Built.class);
        Path rootfs = first.directory().resolve("rootfs.ext4");
        assertThat(HostProgram.of("e2label", rootfs.toString()).run().strip()).isEqualTo("mvm-root");
        assertThat(HostProgram.of("debugfs", "-R", "cat /srv/page", rootfs.toString()).run()).isEqualTo("v1");
        String stat = HostProgram.of("debugfs", "-R", "stat /srv/page", rootfs.toString()).run();
        assertThat(stat).containsPattern("User:\\s+33\\s+Group:\\s+33").containsPattern("Mode:\\s+0640");
        assertThat(HostProgram.of("debugfs", "-R", "stat /sbin/mvm-init", rootfs.toString()).run()).containsPattern("Mode:\\s+0755");

        OciTestImages.archive(data.resolve("layout"), data.resolve("image.tar"));
        BuildOutcome again = build(new TemplateSource.Location.Archive("image.tar"));
        assertThat(again).isInstanceOf(BuildOutcome.Reused.class);
        assertThat(again.revision()).isEqualTo(first.revision());
        assertThat(progress).anyMatch(line -> line.contains("cache hit"));
        assertThat(data.resolve("tmp")).isEmptyDirectory();
    }

    @Test
    void aRegistryReferenceIsCopiedWithSkopeoAndIsTheSameImage() throws Exception {
        HostCapabilities.require(java.nio.file.Files.isExecutable(Path.of("/usr/bin/skopeo")), "skopeo (apt-get install skopeo)");
        // No registry is reachable here: skopeo's oci: transport stands in for docker://, through the same command.
        OciTestImages.writeLayout(data.resolve("registry-stand-in"), OciTestImages.config(List.of("/hello"), List.of(), List.of(), "", ""),
                List.of(new OciTestImages.Layer().dir("srv", 0750, 33, 33).file("srv/page", "from skopeo", 0640, 33, 33)), "1.0");
        BuildOutcome built = build(new TemplateSource.Location.Registry("oci:" + data.resolve("registry-stand-in") + ":1.0"));
        assertThat(built).isInstanceOf(BuildOutcome.Built.class);
        assertThat(built.revision().source().reference()).startsWith("oci:");
        Path rootfs = built.directory().resolve("rootfs.ext4");
        assertThat(HostProgram.of("debugfs", "-R", "cat /srv/page", rootfs.toString()).run()).isEqualTo("from skopeo");
        assertThat(progress).anyMatch(line -> line.startsWith("skopeo copy oci:"));
        assertThat(data.resolve("tmp")).isEmptyDirectory();

        assertThatThrownBy(() -> build(new TemplateSource.Location.Registry("oci:" + data.resolve("nowhere") + ":1.0")))
                .isInstanceOf(TemplateBuildException.class).hasMessageContaining("cannot fetch image oci:");
        assertThat(store.current(id)).contains(built.revision());
    }

    @Test
    void brokenInputsFailClearlyAndLeaveTheCurrentRevision() throws Exception {
        writeImage(data.resolve("good"), "good");
        BuildOutcome good = build(new TemplateSource.Location.LayoutDirectory("good"));

        assertThatThrownBy(() -> build(new TemplateSource.Location.LayoutDirectory("missing")))
                .isInstanceOf(TemplateBuildException.class).hasMessageContaining("does not exist");
        assertThatThrownBy(() -> build(new TemplateSource.Location.Archive("missing.tar")))
                .isInstanceOf(TemplateBuildException.class).hasMessageContaining("does not exist");

        Path corrupt = data.resolve("corrupt");
        writeImage(corrupt, "new content");
        try (Stream<Path> blobs = Files.list(corrupt.resolve("blobs/sha256"))) {
            for (Path blob : blobs.toList()) {
                byte[] bytes = Files.readAllBytes(blob);
                if (bytes.length > 2 && bytes[0] == 0x1f && (bytes[1] & 0xff) == 0x8b) {
                    bytes[bytes.length - 5] ^= 0x55; // a gzip layer: flip a byte
                    Files.write(blob, bytes);
                }
            }
        }
        assertThatThrownBy(() -> build(new TemplateSource.Location.LayoutDirectory("corrupt")))
                .isInstanceOf(TemplateBuildException.class).hasMessageContaining("is corrupt");

        Path hostile = data.resolve("hostile");
        OciTestImages.writeLayout(hostile, OciTestImages.config(List.of(), List.of("sh"), List.of(), "", ""),
                List.of(new OciTestImages.Layer().file("../../escape", "x")));
        assertThatThrownBy(() -> build(new TemplateSource.Location.LayoutDirectory("hostile")))
                .isInstanceOf(TemplateBuildException.class).hasMessageContaining("climbs out");

        assertThat(store.current(id)).contains(good.revision());
        assertThat(store.revisions(id)).containsExactly(good.revision());
        try (Stream<Path> left = Files.list(data.resolve("templates/site-worker/artifacts"))) {
            assertThat(left.map(p -> p.getFileName().toString())).containsExactly(good.revision().revisionHash());
        }
        assertThat(data.resolve("escape")).doesNotExist();
    }
}
