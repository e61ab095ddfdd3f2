package io.mvm.runtime.template;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.runtime.testing.HostCapabilities;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestAgentInjectionTest {
    @TempDir
    Path work;

    @Test
    void everyShippedScriptIsRewrittenToUseMvmsOwnBusybox() {
        for (String script : List.of("mvm-init", "mvm-agent", "mvm-workload", "gateway-setup.sh")) {
            String rewritten = new String(GuestAgentInjection.rewrite(script, GuestAgentInjection.guestScript(script)), StandardCharsets.UTF_8);
            assertThat(rewritten).startsWith("#!/.mvm/bin/sh\n");
            assertThat(rewritten).doesNotContain("export PATH=/sbin");
        }
        String workload = new String(GuestAgentInjection.rewrite("mvm-workload", GuestAgentInjection.guestScript("mvm-workload")),
                StandardCharsets.UTF_8);
        assertThat(workload).contains("/.mvm/bin/setsid /.mvm/bin/sh -c").doesNotContain(" && mv ");
        String init = new String(GuestAgentInjection.rewrite("mvm-init", GuestAgentInjection.guestScript("mvm-init")), StandardCharsets.UTF_8);
        assertThat(init).contains("mount --bind /var /run/mvm-image-var", "cp -a /run/mvm-image-var/. /var/");
        assertThat(init.indexOf("tmpfs /run")).isLessThan(init.indexOf("mount --bind /var"));
        String agent = new String(GuestAgentInjection.rewrite("mvm-agent", GuestAgentInjection.guestScript("mvm-agent")), StandardCharsets.UTF_8);
        assertThat(agent).contains("export PATH=/.mvm/bin:/sbin:/bin:/usr/sbin:/usr/bin", "exec /.mvm/bin/setsid \"$@\"");
    }

    @Test
    void aScriptThatNoLongerFitsTheRewritesFailsLoudly() {
        byte[] changed = "#!/bin/sh\nexport PATH=/usr/bin\n".getBytes(StandardCharsets.UTF_8);
        assertThatThrownBy(() -> GuestAgentInjection.rewrite("mvm-init", changed))
                .hasMessageContaining("guest script mvm-init changed");
        assertThatThrownBy(() -> GuestAgentInjection.rewrite("mvm-init", "#!/bin/bash\n".getBytes(StandardCharsets.UTF_8)))
                .hasMessageContaining("changed");
    }

    @Test
    void injectionFollowsTheImagesMergedUsrLinksAndAddsMountPoints() throws Exception {
        HostCapabilities.require(RootUser.isRoot(), "root (injected files are chowned)");
        Path busybox = io.mvm.runtime.image.StaticBusybox.locate().orElse(null);
        HostCapabilities.require(busybox != null, "a static busybox (busybox-static)");
        Path root = Files.createDirectory(work.resolve("rootfs"));
        Files.createDirectories(root.resolve("usr/sbin"));
        Files.createSymbolicLink(root.resolve("sbin"), Path.of("usr/sbin"));
        Files.createDirectories(root.resolve(".mvm/bin"));
        Files.writeString(root.resolve(".mvm/bin/sh"), "the image's own, must not win");
        Files.createSymbolicLink(root.resolve("var"), Path.of("/srv/elsewhere")); // absolute: resolved inside the tree

        GuestAgentInjection injection = GuestAgentInjection.withHostBusybox();
        injection.inject(root);

        assertThat(root.resolve("usr/sbin/mvm-init")).isExecutable();
        assertThat(Files.readString(root.resolve("usr/sbin/mvm-agent"))).startsWith("#!/.mvm/bin/sh");
        assertThat(root.resolve(".mvm/bin/busybox")).isExecutable().hasSameBinaryContentAs(busybox);
        assertThat(Files.readSymbolicLink(root.resolve(".mvm/bin/sh"))).isEqualTo(Path.of("busybox"));
        assertThat(Files.readSymbolicLink(root.resolve(".mvm/bin/setsid"))).isEqualTo(Path.of("busybox"));
        for (String dir : List.of("dev", "proc", "sys", "run", "tmp", "data", "etc/mvm-config")) {
            assertThat(root.resolve(dir)).isDirectory();
        }
        assertThat(root.resolve("srv/elsewhere")).isDirectory();
        assertThat(Path.of("/srv/elsewhere")).doesNotExist();
        assertThat(Files.getAttribute(root.resolve("tmp"), "unix:mode")).isEqualTo(040000 | 01777);
        assertThat(injection.recipe()).hasSize(64).isEqualTo(injection.recipe());
    }

    @Test
    void anAbsoluteSbinLinkBecomesTheSameLinkRelativeSoTheInitramfsFindsMvmInit() throws Exception {
        HostCapabilities.require(RootUser.isRoot(), "root (injected files are chowned)");
        HostCapabilities.require(io.mvm.runtime.image.StaticBusybox.locate().isPresent(), "a static busybox (busybox-static)");
        Path root = Files.createDirectory(work.resolve("merged-usr"));
        Files.createDirectories(root.resolve("usr/sbin"));
        Files.createSymbolicLink(root.resolve("sbin"), Path.of("/usr/sbin"));
        GuestAgentInjection.withHostBusybox().inject(root);
        assertThat(Files.readSymbolicLink(root.resolve("sbin"))).isEqualTo(Path.of("usr/sbin"));
        assertThat(root.resolve("usr/sbin/mvm-init")).isExecutable();
    }

    @Test
    void everyImageGetsAMachineIdLinkIntoRunSoEveryVmAndCloneHasItsOwn() throws Exception {
        HostCapabilities.require(RootUser.isRoot(), "root (injected files are chowned)");
        HostCapabilities.require(io.mvm.runtime.image.StaticBusybox.locate().isPresent(), "a static busybox (busybox-static)");
        Path withFile = Files.createDirectories(work.resolve("with-file/etc")).getParent();
        Files.writeString(withFile.resolve("etc/machine-id"), ""); // what many images ship
        Path without = Files.createDirectory(work.resolve("without"));
        GuestAgentInjection injection = GuestAgentInjection.withHostBusybox();
        for (Path root : List.of(withFile, without)) {
            injection.inject(root);
            assertThat(Files.readSymbolicLink(root.resolve("etc/machine-id"))).isEqualTo(Path.of("/run/machine-id"));
        }
    }
}
