package io.mvm.runtime.template;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.template.SourceIdentity;
import io.mvm.core.template.TemplateId;
import io.mvm.model.Role;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.InstantSource;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The per-template build lock holds across processes (two agents or CLIs on one data dir): while
 * another JVM is inside a build of template A, this JVM builds template B at once but waits for A.
 */
class TemplateStoreCrossProcessIT {
    @TempDir
    Path data;

    @Test
    void anotherProcessesBuildOfTheSameTemplateIsWaitedForAndOfAnotherIsNot() throws Exception {
        Path inside = data.resolve("child-inside");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), HoldTemplateBuildMain.class.getName(),
                data.toString(), "shared", inside.toString(), "6000").redirectErrorStream(true).start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!Files.exists(inside) && child.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertThat(inside).as("the child JVM is inside its build").exists();

            TemplateStore store = new TemplateStore(data, InstantSource.system());
            AtomicBoolean otherRanAlongside = new AtomicBoolean();
            store.build(request("other"), staging -> {
                otherRanAlongside.set(Files.exists(inside));
                return TemplateStoreTest.writing("other").produce(staging);
            }, false, line -> { });
            assertThat(otherRanAlongside).as("another template builds while the child builds").isTrue();

            AtomicBoolean sameWaited = new AtomicBoolean();
            store.build(request("shared"), staging -> {
                sameWaited.set(!Files.exists(inside));
                return TemplateStoreTest.writing("parent").produce(staging);
            }, false, line -> { });
            assertThat(sameWaited).as("the same template's build started only after the child's ended").isTrue();
            assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
            assertThat(new String(child.getInputStream().readAllBytes(), StandardCharsets.UTF_8)).contains("child build done");
            assertThat(store.revisions(new TemplateId("shared"))).hasSize(2);
        } finally {
            child.destroyForcibly();
        }
    }

    private static BuildRequest request(String template) {
        return new BuildRequest(new TemplateId(template), new SourceIdentity("oci", "parent", "sha256:parent-" + template), "minimal",
                Role.WORKER, 1, 128, 0, "recipe");
    }
}
