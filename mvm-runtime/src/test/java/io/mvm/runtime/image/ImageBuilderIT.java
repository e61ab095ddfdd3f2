package io.mvm.runtime.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.testing.TestMicroVm;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Builds real images in a private data dir (seeded with the kernel package the shared test image
 * already downloaded, so no second download) and checks caching, rebuilds and the artifacts.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ImageBuilderIT {
    private Path dataDir;
    private String kernelPin;

    @BeforeAll
    void seed() throws IOException {
        HostCapabilities.requireVmHost();
        Path shared = HostCapabilities.testDataDir();
        GuestImage sharedImage = ImageBuilder.ensureDefaultImage(shared, ProgressListener.NONE);
        kernelPin = sharedImage.kernelVersion();
        dataDir = TestMicroVm.newWorkDir("image");
        Files.createDirectories(dataDir.resolve("cache"));
        String packageName = DebianKernelSource.packageForPin(kernelPin);
        try (Stream<Path> files = Files.list(shared.resolve("cache"))) {
            for (Path deb : files.filter(p -> p.getFileName().toString().startsWith(packageName + "_")).toList()) {
                Files.copy(deb, dataDir.resolve("cache").resolve(deb.getFileName()));
            }
        }
    }

    @AfterAll
    void cleanUp() {
        TestMicroVm.deleteTree(dataDir);
    }

    private ImageBuilder builder(List<String> progress) {
        return new ImageBuilder(dataDir, Optional.of(kernelPin), InstantSource.system(), progress::add);
    }

    @Test
    @Order(0)
    void twoProcessesBuildingAtOnceBuildOnce() throws Exception {
        Path other = TestMicroVm.newWorkDir("image-procs");
        try {
            Files.createDirectories(other.resolve("cache"));
            try (Stream<Path> debs = Files.list(dataDir.resolve("cache"))) {
                for (Path deb : debs.toList()) {
                    Files.copy(deb, other.resolve("cache").resolve(deb.getFileName()));
                }
            }
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            List<Process> processes = new ArrayList<>();
            for (int i = 0; i < 2; i++) {
                processes.add(new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                        EnsureImageMain.class.getName(), other.toString(), kernelPin).redirectErrorStream(true).start());
            }
            StringBuilder output = new StringBuilder();
            for (Process process : processes) {
                output.append(new String(process.getInputStream().readAllBytes()));
                assertThat(process.waitFor()).as(output.toString()).isZero();
            }
            assertThat(output.toString().lines().filter(l -> l.startsWith("progress: building guest image")).count())
                    .as(output.toString()).isEqualTo(1);
            assertThat(output.toString().lines().filter(l -> l.contains("is present")).count()).as(output.toString()).isEqualTo(1);
            assertThat(ImageBuilder.load(other, "default")).isPresent();
        } finally {
            TestMicroVm.deleteTree(other);
        }
    }

    @Test
    @Order(1)
    void concurrentCallersBuildTheImageOnce() throws Exception {
        List<String> progress = Collections.synchronizedList(new ArrayList<>());
        List<Future<GuestImage>> results = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(3)) {
            for (int i = 0; i < 3; i++) {
                results.add(pool.submit((Callable<GuestImage>) () -> builder(progress).ensure("default")));
            }
        }
        GuestImage first = results.getFirst().get();
        for (Future<GuestImage> result : results) {
            assertThat(result.get()).isEqualTo(first);
        }
        assertThat(progress.stream().filter(m -> m.startsWith("building guest image")).count()).isEqualTo(1);
        assertThat(progress.stream().filter(m -> m.contains("is present")).count()).isEqualTo(2);
        assertThat(first.kernelVersion()).isEqualTo(kernelPin);
        assertThat(first.bootArgs()).contains("console=ttyS0", "tsc_early_khz=2000000", "tsc=reliable", "panic=-1");
        assertThat(ImageBuilder.load(dataDir, "default")).contains(first);
    }

    @Test
    @Order(2)
    void theSecondCallReusesTheIntactImage() {
        ImageMetadata before = ImageBuilder.metadata(dataDir, "default").orElseThrow();
        List<String> progress = new ArrayList<>();
        builder(progress).ensure("default");
        assertThat(progress).singleElement().asString().contains("is present");
        assertThat(ImageBuilder.metadata(dataDir, "default").orElseThrow().builtAt()).isEqualTo(before.builtAt());
    }

    @Test
    @Order(3)
    void artifactsAreWhatTheBootContractSays() throws Exception {
        GuestImage image = ImageBuilder.load(dataDir, "default").orElseThrow();
        ImageMetadata metadata = ImageBuilder.metadata(dataDir, "default").orElseThrow();
        String listing = HostProgram.of("sh", "-c", "zcat '" + image.initramfs() + "' | cpio -t --quiet").run();
        assertThat(listing.lines()).contains("init", "bin/busybox", "dev/console", "lib/modules/load-order");
        for (String module : metadata.modules()) {
            assertThat(listing.lines()).contains("lib/modules/" + module + ".ko");
        }
        String order = HostProgram.of("sh", "-c", "zcat '" + image.initramfs() + "' | cpio -i --to-stdout --quiet lib/modules/load-order").run();
        assertThat(order.lines().toList()).isEqualTo(metadata.modules());
        assertThat(metadata.modules()).contains("virtio_mmio", "virtio_blk", "virtio_net");

        assertThat(HostProgram.of("e2label", image.rootfs().toString()).run().strip()).isEqualTo("mvm-root");
        String sbin = HostProgram.of("debugfs", "-R", "ls -l /sbin", image.rootfs().toString()).run();
        assertThat(sbin).contains("mvm-init", "mvm-agent", "mvm-workload");
        for (String dir : List.of("/data", "/etc/mvm-config", "/tmp", "/run", "/var", "/proc", "/sys", "/dev")) {
            assertThat(HostProgram.of("debugfs", "-R", "stat " + dir, image.rootfs().toString()).run()).as(dir).contains("Type: directory");
        }
        assertThat(metadata.artifacts().get("rootfs.ext4")).isEqualTo(ImageBuilder.sha256(image.rootfs()));
    }

    @Test
    @Order(4)
    void aCorruptArtifactIsDetectedAndRebuilt() throws IOException {
        GuestImage image = ImageBuilder.load(dataDir, "default").orElseThrow();
        ImageMetadata before = ImageBuilder.metadata(dataDir, "default").orElseThrow();
        try (RandomAccessFile rootfs = new RandomAccessFile(image.rootfs().toFile(), "rw")) {
            rootfs.seek(2048);
            int b = rootfs.read();
            rootfs.seek(2048);
            rootfs.write(b ^ 0xff);
        }
        assertThat(ImageBuilder.load(dataDir, "default")).isEmpty();

        List<String> progress = new ArrayList<>();
        GuestImage rebuilt = builder(progress).ensure("default");
        assertThat(progress).anyMatch(m -> m.startsWith("building guest image"));
        assertThat(ImageBuilder.metadata(dataDir, "default").orElseThrow().builtAt()).isAfter(before.builtAt());
        assertThat(ImageBuilder.load(dataDir, "default")).contains(rebuilt);
    }

    @Test
    @Order(5)
    void anIncompleteImageIsRebuiltAndNoScratchIsLeftBehind() throws IOException {
        Files.delete(dataDir.resolve("images/default/image.json"));
        assertThat(ImageBuilder.load(dataDir, "default")).isEmpty();
        builder(new ArrayList<>()).ensure("default");
        assertThat(ImageBuilder.load(dataDir, "default")).isPresent();
        try (Stream<Path> entries = Files.list(dataDir.resolve("images"))) {
            assertThat(entries.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder("default", ".build.lock");
        }
    }

    @Test
    @Order(6)
    void badPinsAndNamesFailBeforeAnythingIsBuilt() {
        assertThatThrownBy(() -> new ImageBuilder(dataDir, Optional.of("newest please"), InstantSource.system(), ProgressListener.NONE))
                .isInstanceOfSatisfying(io.mvm.model.MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(io.mvm.model.ErrorCategory.INVALID_ARGUMENT)).hasMessageContaining("is not a kernel version");
        assertThatThrownBy(() -> builder(new ArrayList<>()).ensure("../escape"))
                .isInstanceOfSatisfying(io.mvm.model.MvmException.class,
                        e -> assertThat(e.category()).isEqualTo(io.mvm.model.ErrorCategory.INVALID_ARGUMENT)).hasMessageContaining("not a valid image name");
    }
}
