package io.mvm.runtime.template.oci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.template.DefaultWorkload;
import io.mvm.runtime.image.ProgressListener;
import io.mvm.runtime.template.TemplateBuildException;
import io.mvm.runtime.testing.HostCapabilities;
import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Layers applied into a staging tree exactly as a container runtime would see the image, and every
 * hostile or broken input refused. Ownership needs root (chown), so this runs as root like the VM tests.
 */
class OciUnpackTest {
    @TempDir
    Path work;
    Path root;

    @BeforeEach
    void setUp() throws Exception {
        HostCapabilities.require(io.mvm.runtime.template.RootUser.isRoot(), "root (the unpacker sets file owners)");
        root = Files.createDirectory(work.resolve("rootfs"));
    }

    private void apply(UnpackLimits limits, OciTestImages.Layer... layers) {
        LayerApplier applier = new LayerApplier(root, limits, note -> { });
        int n = 0;
        for (OciTestImages.Layer layer : layers) {
            applier.apply("layer" + n++, new ByteArrayInputStream(layer.tar()));
        }
    }

    private void apply(OciTestImages.Layer... layers) {
        apply(UnpackLimits.DEFAULT, layers);
    }

    @Test
    void whiteoutsDeleteLowerEntriesAndOpaqueDirectoriesHideTheirLowerContent() throws Exception {
        OciTestImages.Layer lower = new OciTestImages.Layer()
                .dir("etc", 0755, 0, 0).file("etc/a", "a").file("etc/b", "b")
                .dir("opq", 0755, 0, 0).file("opq/old1", "1").dir("opq/sub", 0755, 0, 0).file("opq/sub/old2", "2")
                .dir("gone", 0755, 0, 0).file("gone/inside", "x");
        OciTestImages.Layer upper = new OciTestImages.Layer()
                .whiteout("etc", "a")
                .whiteout("", "gone")
                // the layer's own entries may come before its opaque marker: they must survive it
                .file("opq/new", "n").dir("opq/sub", 0755, 0, 0).file("opq/sub/new2", "n2")
                .opaque("opq");
        apply(lower, upper);

        assertThat(root.resolve("etc/a")).doesNotExist();
        assertThat(root.resolve("etc/b")).hasContent("b");
        assertThat(root.resolve("gone")).doesNotExist();
        assertThat(root.resolve("opq/old1")).doesNotExist();
        assertThat(root.resolve("opq/sub/old2")).doesNotExist();
        assertThat(root.resolve("opq/new")).hasContent("n");
        assertThat(root.resolve("opq/sub/new2")).hasContent("n2");
        try (var files = Files.walk(root)) {
            assertThat(files.map(p -> p.getFileName().toString())).noneMatch(name -> name.startsWith(".wh."));
        }
    }

    @Test
    void aLaterLayerReplacesAFileWithADirectoryAndBack() throws Exception {
        apply(new OciTestImages.Layer().file("x", "file"),
                new OciTestImages.Layer().dir("x", 0700, 0, 0).file("x/y", "y"),
                new OciTestImages.Layer().file("x", "file again"));
        assertThat(root.resolve("x")).isRegularFile().hasContent("file again");
    }

    @Test
    void symlinksHardLinksModesAndOwnersAreKept() throws Exception {
        apply(new OciTestImages.Layer()
                        .dir("bin", 0755, 0, 0)
                        .file("bin/tool", "#!/bin/sh\necho tool\n", 04755, 1000, 1001)
                        .hardlink("bin/tool-again", "bin/tool")
                        .dir("usr", 0755, 0, 0).dir("usr/lib", 0755, 0, 0)
                        .symlink("lib", "usr/lib")
                        .symlink("usr/bin-tool", "/bin/tool")
                        .dir("srv", 0750, 33, 33)
                        .file("srv/private", "p", 0600, 33, 33),
                new OciTestImages.Layer().file("lib/libx.so", "so"));

        Path tool = root.resolve("bin/tool");
        assertThat(Files.getAttribute(tool, "unix:mode")).isEqualTo(0100000 | 04755);
        assertThat(Files.getAttribute(tool, "unix:uid")).isEqualTo(1000);
        assertThat(Files.getAttribute(tool, "unix:gid")).isEqualTo(1001);
        assertThat(Files.getAttribute(root.resolve("bin/tool-again"), "unix:ino")).isEqualTo(Files.getAttribute(tool, "unix:ino"));
        assertThat(Files.getAttribute(tool, "unix:nlink")).isEqualTo(2);
        assertThat(Files.readSymbolicLink(root.resolve("lib"))).isEqualTo(Path.of("usr/lib"));
        assertThat(Files.readSymbolicLink(root.resolve("usr/bin-tool"))).isEqualTo(Path.of("/bin/tool"));
        // written through the image's own lib -> usr/lib link, inside the tree
        assertThat(root.resolve("usr/lib/libx.so")).hasContent("so");
        assertThat(Files.getAttribute(root.resolve("srv"), "unix:mode")).isEqualTo(040000 | 0750);
        assertThat(Files.getAttribute(root.resolve("srv/private"), "unix:uid")).isEqualTo(33);
    }

    @Test
    void aLinkPlantedByAnEarlierLayerNeverLeadsAWriteOutOfTheTree() throws Exception {
        Path hostDir = Files.createDirectory(work.resolve("host-dir"));
        apply(new OciTestImages.Layer().symlink("escape", hostDir.toString()).symlink("up", "/"),
                new OciTestImages.Layer().file("escape/pwned", "x").file("up/etc-pwned", "y"));
        assertThat(hostDir.resolve("pwned")).doesNotExist();
        // an absolute target starts at the image's root, as it will in the guest
        assertThat(root.resolve(root.relativize(root).resolve(hostDir.toString().substring(1))).resolve("pwned")).hasContent("x");
        assertThat(root.resolve("etc-pwned")).hasContent("y");
    }

    @Test
    void traversalDevicesAndEscapingLinksAreRefused() throws Exception {
        Path sentinel = Files.writeString(work.resolve("sentinel"), "untouched");
        record Case(OciTestImages.Layer layer, String message) {}
        List<Case> cases = List.of(
                new Case(new OciTestImages.Layer().file("../sentinel", "pwned"), "climbs out with '..'"),
                new Case(new OciTestImages.Layer().file("a/../../sentinel", "pwned"), "climbs out with '..'"),
                new Case(new OciTestImages.Layer().file(work.resolve("sentinel").toString(), "pwned"), "absolute path"),
                new Case(new OciTestImages.Layer().dir("a", 0755, 0, 0).symlink("a/b", "../../sentinel"), "points outside the image"),
                new Case(new OciTestImages.Layer().file("f", "f").hardlink("h", "../sentinel"), "climbs out with '..'"),
                new Case(new OciTestImages.Layer().hardlink("h", "missing"), "which is not a file in the image"),
                new Case(new OciTestImages.Layer().charDevice("dev/mem"), "device node 'dev/mem' is not allowed"),
                new Case(new OciTestImages.Layer().dir("a", 0755, 0, 0).file("a/.wh..", ""), "names no entry of its directory"),
                new Case(new OciTestImages.Layer().file(".wh.", ""), "names no entry of its directory"));
        for (Case c : cases) {
            assertThatThrownBy(() -> apply(c.layer())).as(c.message()).isInstanceOf(TemplateBuildException.class).hasMessageContaining(c.message());
        }
        assertThat(sentinel).hasContent("untouched");
        assertThat(work.resolve("sentinel")).isRegularFile();
    }

    @Test
    void sizeAndFileCountAreBounded() {
        assertThatThrownBy(() -> apply(new UnpackLimits(1 << 20, 3),
                new OciTestImages.Layer().file("a", "").file("b", "").file("c", "").file("d", "")))
                .hasMessageContaining("more than 3 entries");
        assertThatThrownBy(() -> apply(new UnpackLimits(10, 100),
                new OciTestImages.Layer().file("a", "123456").file("b", "123456")))
                .hasMessageContaining("more than 10 bytes");
    }

    @Test
    void aLayoutIsReadWithItsWorkloadAndEveryDigestChecked() throws Exception {
        Path layout = work.resolve("layout");
        String digest = OciTestImages.writeLayout(layout,
                OciTestImages.config(List.of("/app/serve"), List.of("--port", "80"), List.of("PATH=/usr/bin:/bin"), "/app", "1000"),
                List.of(new OciTestImages.Layer().dir("app", 0755, 0, 0).file("app/serve", "#!/bin/sh\n", 0755, 0, 0)),
                "latest", "v1");

        assertThatThrownBy(() -> OciImageReader.read(layout, Optional.empty())).hasMessageContaining("holds 2 images; name one with ref");
        assertThatThrownBy(() -> OciImageReader.read(layout, Optional.of("v9"))).hasMessageContaining("no image with ref 'v9'");
        OciImage image = OciImageReader.read(layout, Optional.of("latest"));
        assertThat(image.manifestDigest().toString()).isEqualTo(digest);
        assertThat(image.workload()).contains(new DefaultWorkload(List.of("/app/serve"), List.of("--port", "80"),
                List.of("PATH=/usr/bin:/bin"), "/app", "1000"));
        OciTemplateBuilder.unpack(image, root, UnpackLimits.DEFAULT, ProgressListener.NONE);
        assertThat(root.resolve("app/serve")).isExecutable();

        // one flipped byte in the layer blob
        Path blob = image.layers().getFirst().blob();
        byte[] bytes = Files.readAllBytes(blob);
        bytes[bytes.length / 2] ^= 1;
        Files.write(blob, bytes);
        Path other = Files.createDirectory(work.resolve("other"));
        assertThatThrownBy(() -> OciTemplateBuilder.unpack(OciImageReader.read(layout, Optional.of("latest")), other,
                UnpackLimits.DEFAULT, ProgressListener.NONE))
                .isInstanceOf(TemplateBuildException.class)
                .hasMessageContaining("layer 1 " + image.layers().getFirst().blobDigest().orElseThrow() + " is corrupt");
    }

    @Test
    void aBrokenLayoutIsAClearError() throws Exception {
        Path layout = work.resolve("broken");
        OciTestImages.writeLayout(layout, OciTestImages.config(List.of(), List.of("sh"), List.of(), "", ""),
                List.of(new OciTestImages.Layer().file("a", "a")));
        Path config = Files.list(layout.resolve("blobs/sha256")).filter(p -> {
            try {
                return Files.readString(p).contains("\"architecture\"");
            } catch (Exception e) {
                return false;
            }
        }).findFirst().orElseThrow();
        Files.writeString(config, Files.readString(config).replace("\"sh\"", "\"bash\""));
        assertThatThrownBy(() -> OciImageReader.read(layout, Optional.empty()))
                .hasMessageContaining("the image config sha256:" + config.getFileName() + " is corrupt");
        Files.delete(layout.resolve("index.json"));
        assertThatThrownBy(() -> OciImageReader.read(layout, Optional.empty())).hasMessageContaining("is not an OCI image layout");
    }

    @Test
    void dockerSaveAndArchivesAreReadToo() throws Exception {
        Path saved = work.resolve("saved");
        String id = OciTestImages.writeDockerSave(saved, OciTestImages.config(List.of("/hello"), List.of(), List.of(), "", ""),
                List.of(new OciTestImages.Layer().file("hello", "hi", 0755, 0, 0), new OciTestImages.Layer().whiteout("", "hello").file("bye", "bye")),
                "web:1.0");
        Path archive = OciTestImages.archive(saved, work.resolve("web.tar"));
        Path unpacked = Files.createDirectory(work.resolve("unpacked"));
        ImageArchive.extract(archive, unpacked, UnpackLimits.DEFAULT);
        OciImage image = OciImageReader.read(unpacked, Optional.of("1.0"));
        assertThat(image.manifestDigest().hex()).isEqualTo(id);
        assertThat(image.workload().orElseThrow().argv()).containsExactly("/hello");
        OciTemplateBuilder.unpack(image, root, UnpackLimits.DEFAULT, ProgressListener.NONE);
        assertThat(root.resolve("hello")).doesNotExist();
        assertThat(root.resolve("bye")).hasContent("bye");

        // a layer tar that does not match its diff_id
        Files.writeString(saved.resolve("layer1/layer.tar"), "not the layer");
        Path again = Files.createDirectory(work.resolve("again"));
        assertThatThrownBy(() -> OciTemplateBuilder.unpack(OciImageReader.read(saved, Optional.empty()), again,
                UnpackLimits.DEFAULT, ProgressListener.NONE)).isInstanceOf(TemplateBuildException.class);
    }
}
