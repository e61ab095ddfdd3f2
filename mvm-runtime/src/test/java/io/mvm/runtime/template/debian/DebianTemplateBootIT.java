package io.mvm.runtime.template.debian;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.core.template.TemplateId;
import io.mvm.core.template.TemplateSource;
import io.mvm.core.template.TemplateVariant;
import io.mvm.model.Role;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.template.BaseImage;
import io.mvm.runtime.template.BuildOutcome;
import io.mvm.runtime.template.GuestAgentInjection;
import io.mvm.runtime.template.TemplateStore;
import io.mvm.runtime.testing.HostCapabilities;
import io.mvm.runtime.vm.TemplateVmFixture;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A Debian template (mmdebstrap minbase + jq from Debian's archive, plus a file) builds on the host
 * and boots in a real VM where jq — a program the default image does not have — runs, the file is
 * there, and the image's own shell is dash. A second build on the same day is a cache hit. Needs
 * root, mmdebstrap and a reachable Debian mirror.
 */
class DebianTemplateBootIT {
    private static final Duration CALL = Duration.ofSeconds(30);
    static TemplateVmFixture runtime;
    static DebianTemplateBuilder builder;
    static BuildOutcome built;
    static TemplateSource.Debian source;
    static final TemplateVariant VARIANT = new TemplateVariant("tools-worker", Role.WORKER, "minimal", 1, 256, 0);
    static String vm;

    @BeforeAll
    static void buildAndBoot() throws Exception {
        HostCapabilities.requireVmHost();
        HostCapabilities.require(Files.isExecutable(Path.of("/usr/bin/mmdebstrap")), "mmdebstrap (apt-get install mmdebstrap)");
        runtime = new TemplateVmFixture();
        Files.writeString(runtime.dataDir().resolve("greeting.txt"), "hello from a Debian template\n");
        source = new TemplateSource.Debian("bookworm", List.of("jq"), Map.of("/etc/greeting", "greeting.txt"));
        TemplateStore store = new TemplateStore(runtime.dataDir(), InstantSource.system());
        builder = new DebianTemplateBuilder(store, BaseImage.ofDefaultImage(HostCapabilities.testDataDir()),
                GuestAgentInjection.withHostBusybox(), InstantSource.fixed(Instant.parse("2026-12-03T12:00:00Z")), Duration.ofMinutes(30));
        built = builder.build(new TemplateId("tools-worker"), source, runtime.dataDir(), VARIANT, false, System.err::println);
        vm = "deb-" + UUID.randomUUID().toString().substring(0, 8);
        runtime.vms().run(VmSpec.builder(vm, store.currentImage(new TemplateId("tools-worker"))).vcpus(1).memoryMib(256).build());
    }

    @AfterAll
    static void tearDown() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
    }

    private static GuestChannel.ExecResult exec(String... argv) {
        try (GuestChannel guest = runtime.vms().guest(vm)) {
            return guest.exec(GuestChannel.ExecRequest.of(CALL, argv));
        }
    }

    @Test
    void thePackagesProgramRunsInTheGuestWithTheFilesCopiedIn() {
        assertThat(built).isInstanceOf(BuildOutcome.Built.class);
        assertThat(built.revision().source().kind()).isEqualTo("debian");
        assertThat(exec("jq", "-n", "[1,2,3] | add").stdoutText().strip()).isEqualTo("6");
        assertThat(exec("readlink", "-f", "/usr/bin/jq").stdoutText().strip()).isEqualTo("/usr/bin/jq");
        assertThat(exec("cat", "/etc/greeting").stdoutText()).isEqualTo("hello from a Debian template\n");
        assertThat(exec("/usr/bin/dpkg-query", "-W", "-f", "${Status}", "jq").stdoutText()).isEqualTo("install ok installed");
        assertThat(exec("readlink", "-f", "/bin/sh").stdoutText().strip()).isEqualTo("/usr/bin/dash");
        assertThat(exec("cat", "/etc/debian_version").stdoutText()).startsWith("12");
    }

    @Test
    void aSecondBuildTheSameDayIsACacheHit() {
        BuildOutcome again = builder.build(new TemplateId("tools-worker"), source, runtime.dataDir(), VARIANT, false, s -> { });
        assertThat(again).isInstanceOf(BuildOutcome.Reused.class);
        assertThat(again.revision().revisionHash()).isEqualTo(built.revision().revisionHash());
    }
}
