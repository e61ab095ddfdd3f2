package io.mvm.cli.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * The E2E cleanup kills tracked children and the VMM-named processes that mention the test's temp
 * dir, and removes their mvm cgroups. Stand-ins are shell loops named {@code qemu-system-x86_64}
 * (argv[0]) so no VM needs to boot; the cgroup is a real cgroup-v1 cpu group under {@code mvm/}.
 */
class ChildCleanupIT {

    @Test
    void killsChildrenAndVmmsOfItsDirAndRemovesTheirCgroups() throws Exception {
        Path cpuRoot = Path.of("/sys/fs/cgroup/cpu");
        Assumptions.assumeTrue(Files.isWritable(cpuRoot) && "root".equals(System.getProperty("user.name")),
                "needs root and a writable cgroup-v1 cpu hierarchy");
        Path root = Files.createTempDirectory("mvm-e2e-cleanup-");
        Path other = Files.createTempDirectory("mvm-e2e-cleanup-other-");
        Path group = cpuRoot.resolve("mvm").resolve("e2e-cleanup-" + HexFormat.of().toHexDigits(
                ThreadLocalRandom.current().nextInt()));
        Process child = null;
        Process vmm = null;
        Process stranger = null;
        try {
            var cleanup = new ChildCleanup(root);
            child = new ProcessBuilder("sleep", "600").start();
            cleanup.track(child);
            vmm = fakeVmm(root);
            stranger = fakeVmm(other);
            Files.createDirectories(group);
            Files.writeString(group.resolve("cgroup.procs"), Long.toString(vmm.pid()));
            assertThat(VmHost.mvmCgroupsOf(vmm.pid())).contains(group);

            cleanup.run();

            assertThat(child.isAlive()).isFalse();
            var fake = vmm;
            await().atMost(Duration.ofSeconds(10)).until(() -> !fake.isAlive());
            assertThat(Files.exists(group)).as("the VMM's cgroup").isFalse();
            assertThat(stranger.isAlive()).as("a VMM of another test's dir").isTrue();
        } finally {
            for (var p : new Process[] {child, vmm, stranger}) {
                if (p != null) {
                    p.destroyForcibly();
                    p.waitFor();
                }
            }
            Files.deleteIfExists(group);
            VmHost.deleteTree(root);
            VmHost.deleteTree(other);
        }
    }

    /** A process whose command line looks like a QEMU's and mentions {@code dir}. */
    private static Process fakeVmm(Path dir) throws Exception {
        var p = new ProcessBuilder("bash", "-c", "exec -a qemu-system-x86_64 sh -c 'while :; do sleep 1; done' "
                + dir + "/vm").start();
        await().atMost(Duration.ofSeconds(10)).until(() -> VmHost.qemusMentioning(dir + "/").contains(p.pid()));
        return p;
    }

}
