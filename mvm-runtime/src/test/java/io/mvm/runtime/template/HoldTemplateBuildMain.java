package io.mvm.runtime.template;

import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateId;
import io.mvm.model.Role;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Map;
import java.util.Optional;

/**
 * Run in a separate JVM by TemplateStoreCrossProcessIT: builds template {@code args[1]} in data dir
 * {@code args[0]} with a producer that creates {@code args[2]}, holds it for {@code args[3]} ms and
 * removes it again — a build "in progress" another process can observe.
 */
public final class HoldTemplateBuildMain {
    private HoldTemplateBuildMain() {}

    public static void main(String[] args) throws Exception {
        Path inside = Path.of(args[2]);
        long holdMillis = Long.parseLong(args[3]);
        new TemplateStore(Path.of(args[0]), InstantSource.system()).build(
                new BuildRequest(new TemplateId(args[1]), new SourceIdentity("oci", "child", "sha256:child"), "minimal", Role.WORKER,
                        1, 128, 0, "recipe"),
                staging -> {
                    try {
                        Files.writeString(inside, "building");
                        Thread.sleep(holdMillis);
                        Files.delete(inside);
                        Files.writeString(staging.resolve("rootfs.ext4"), "child");
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                    return new ArtifactProducer.Produced(Map.of("rootfs", "rootfs.ext4"), "", "", Optional.empty());
                }, false, line -> { });
        System.out.println("child build done");
    }
}
