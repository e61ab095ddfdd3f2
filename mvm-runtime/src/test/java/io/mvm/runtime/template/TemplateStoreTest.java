package io.mvm.runtime.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateId;
import io.mvm.model.Role;
import io.mvm.runtime.image.ProgressListener;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TemplateStoreTest {
    @TempDir
    Path data;

    final InstantSource clock = InstantSource.fixed(Instant.parse("2026-12-03T09:00:00Z"));
    final List<String> progress = new CopyOnWriteArrayList<>();
    final ProgressListener listener = progress::add;

    static BuildRequest request(String template, String lockHash) {
        return new BuildRequest(new TemplateId(template), new SourceIdentity("oci", "/img", lockHash), "minimal", Role.WORKER,
                1, 256, 0, "recipe-1");
    }

    static ArtifactProducer writing(String rootfsContent) {
        return staging -> {
            try {
                Files.writeString(staging.resolve("rootfs.ext4"), rootfsContent);
                Files.writeString(staging.resolve("vmlinuz"), "kernel");
                Files.writeString(staging.resolve("initramfs.cpio.gz"), "initramfs");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new ArtifactProducer.Produced(Map.of("rootfs", "rootfs.ext4", "kernel", "vmlinuz", "initramfs", "initramfs.cpio.gz"),
                    "6.12", "console=ttyS0", Optional.empty());
        };
    }

    @Test
    void aBuildBecomesCurrentAndTheSameInputsAreACacheHit() throws Exception {
        TemplateStore store = new TemplateStore(data, clock);
        BuildRequest request = request("web-worker", "sha256:one");

        BuildOutcome first = store.build(request, writing("v1"), false, listener);
        assertThat(first).isInstanceOf(BuildOutcome.Built.class);
        Path link = data.resolve("templates/web-worker/current");
        assertThat(Files.isSymbolicLink(link)).isTrue();
        assertThat(Files.readSymbolicLink(link).toString()).isEqualTo("artifacts/" + request.revisionHash());
        assertThat(store.current(request.template())).contains(first.revision());
        assertThat(first.revision().artifact("rootfs").orElseThrow().size()).hasValue(2);
        assertThat(store.currentImage(request.template()).rootfs()).isEqualTo(first.directory().resolve("rootfs.ext4"));

        AtomicInteger calls = new AtomicInteger();
        BuildOutcome second = store.build(request, staging -> {
            calls.incrementAndGet();
            return writing("v2").produce(staging);
        }, false, listener);
        assertThat(second).isInstanceOf(BuildOutcome.Reused.class);
        assertThat(calls).hasValue(0);
        assertThat(second.revision()).isEqualTo(first.revision());
        assertThat(progress).anyMatch(line -> line.contains("cache hit"));

        BuildOutcome forced = store.build(request, writing("v3"), true, listener);
        assertThat(forced).isInstanceOf(BuildOutcome.Built.class);
        assertThat(Files.readString(forced.directory().resolve("rootfs.ext4"))).isEqualTo("v3");
        assertThat(store.revisions(request.template())).hasSize(1);
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void aNewSourceIsANewRevisionAndAnEarlierOneBecomesCurrentAgainFromTheCache() {
        TemplateStore store = new TemplateStore(data, clock);
        BuildOutcome one = store.build(request("web-worker", "sha256:one"), writing("1"), false, listener);
        BuildOutcome two = store.build(request("web-worker", "sha256:two"), writing("2"), false, listener);
        assertThat(two.revision().revisionHash()).isNotEqualTo(one.revision().revisionHash());
        assertThat(store.current(new TemplateId("web-worker"))).contains(two.revision());
        assertThat(store.revisions(new TemplateId("web-worker"))).hasSize(2);

        BuildOutcome back = store.build(request("web-worker", "sha256:one"), writing("x"), false, listener);
        assertThat(back).isInstanceOf(BuildOutcome.Reused.class);
        assertThat(store.current(new TemplateId("web-worker"))).contains(one.revision());
    }

    @Test
    void aFailedBuildLeavesCurrentWhereItWasAndNothingHalfWritten() {
        TemplateStore store = new TemplateStore(data, clock);
        BuildOutcome good = store.build(request("web-worker", "sha256:one"), writing("good"), false, listener);

        assertThatThrownBy(() -> store.build(request("web-worker", "sha256:two"), staging -> {
            try {
                Files.writeString(staging.resolve("rootfs.ext4"), "half");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            throw new TemplateBuildException("layer 2 is corrupt");
        }, false, listener)).hasMessage("layer 2 is corrupt");

        assertThat(store.current(new TemplateId("web-worker"))).contains(good.revision());
        assertThat(store.revisions(new TemplateId("web-worker"))).containsExactly(good.revision());
        assertThat(leftovers()).isEmpty();

        // A producer that claims a file it did not write fails the same way.
        assertThatThrownBy(() -> store.build(request("web-worker", "sha256:three"),
                staging -> new ArtifactProducer.Produced(Map.of("rootfs", "rootfs.ext4"), "", "", Optional.empty()), false, listener))
                .hasMessageContaining("did not produce its rootfs");
        assertThat(store.current(new TemplateId("web-worker"))).contains(good.revision());
        assertThat(leftovers()).isEmpty();
    }

    @Test
    void aDamagedRevisionIsNotACacheHit() throws Exception {
        TemplateStore store = new TemplateStore(data, clock);
        BuildOutcome first = store.build(request("web-worker", "sha256:one"), writing("abc"), false, listener);
        Files.writeString(first.directory().resolve("rootfs.ext4"), "abd");
        assertThat(store.current(new TemplateId("web-worker"))).isEmpty();
        BuildOutcome again = store.build(request("web-worker", "sha256:one"), writing("abc"), false, listener);
        assertThat(again).isInstanceOf(BuildOutcome.Built.class);
        assertThat(store.current(new TemplateId("web-worker"))).isPresent();
    }

    @Test
    void buildsOfOneTemplateAreSerialisedAndOfTwoTemplatesRunSideBySide() throws Exception {
        TemplateStore store = new TemplateStore(data, clock);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger mostInside = new AtomicInteger();
        ArtifactProducer slow = staging -> {
            mostInside.accumulateAndGet(inside.incrementAndGet(), Math::max);
            try {
                Thread.sleep(150);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            inside.decrementAndGet();
            return writing("x").produce(staging);
        };
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<BuildOutcome>> same = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                String lock = "sha256:" + i;
                same.add(pool.submit(() -> store.build(request("one", lock), slow, false, listener)));
            }
            for (Future<BuildOutcome> f : same) {
                f.get(30, TimeUnit.SECONDS);
            }
        }
        assertThat(mostInside).hasValue(1);

        // Two templates: each producer waits for the other to be inside too; serialised builds would time out.
        CyclicBarrier bothInside = new CyclicBarrier(2);
        ArtifactProducer meeting = staging -> {
            try {
                bothInside.await(10, TimeUnit.SECONDS);
            } catch (Exception e) {
                throw new IllegalStateException("the other template's build never ran alongside", e);
            }
            return writing("y").produce(staging);
        };
        try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
            Future<BuildOutcome> a = pool.submit(() -> store.build(request("alpha", "sha256:a"), meeting, false, listener));
            Future<BuildOutcome> b = pool.submit(() -> store.build(request("beta", "sha256:b"), meeting, false, listener));
            assertThat(a.get(30, TimeUnit.SECONDS)).isInstanceOf(BuildOutcome.Built.class);
            assertThat(b.get(30, TimeUnit.SECONDS)).isInstanceOf(BuildOutcome.Built.class);
        }
    }

    @Test
    void aStagingDirectoryLeftByADeadBuildIsSweptByTheNext() throws Exception {
        Path abandoned = Files.createDirectories(data.resolve("templates/web-worker/artifacts/.build-123"));
        Files.writeString(abandoned.resolve("rootfs.ext4"), "half");
        new TemplateStore(data, clock).build(request("web-worker", "sha256:one"), writing("x"), false, listener);
        assertThat(abandoned).doesNotExist();
    }

    @Test
    void aDeletedTemplateIsGoneWithItsRevisionsAndCanBeBuiltAgain() {
        TemplateStore store = new TemplateStore(data, clock);
        store.build(request("web-worker", "sha256:one"), writing("x"), false, listener);
        store.build(request("api-worker", "sha256:one"), writing("y"), false, listener);
        store.delete(new TemplateId("web-worker"));
        assertThat(data.resolve("templates/web-worker")).doesNotExist();
        assertThat(store.templates()).containsExactly(new TemplateId("api-worker"));
        assertThat(data.resolve("templates").toFile().list()).containsExactly("api-worker");
        assertThatThrownBy(() -> store.delete(new TemplateId("web-worker"))).hasMessageContaining("does not exist");
        assertThat(store.build(request("web-worker", "sha256:one"), writing("x"), false, listener)).isInstanceOf(BuildOutcome.Built.class);
    }

    private List<Path> leftovers() {
        try (Stream<Path> files = Files.list(data.resolve("templates/web-worker/artifacts"))) {
            return files.filter(p -> p.getFileName().toString().startsWith(".")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
