package io.mvm.runtime.vm;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.model.InstanceState;
import io.mvm.runtime.backend.DriveSpec;
import io.mvm.runtime.backend.VmHandle;
import io.mvm.runtime.backend.VmSpec;
import io.mvm.runtime.guest.GuestChannel;
import io.mvm.runtime.qemu.VmmSandbox;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * QEMU runs sandboxed (docs/security.md): its own non-root user per VM, no capabilities, QEMU's
 * seccomp filter, and only its own files; snapshots go through the host, never through a shell;
 * a restarted runtime re-adopts the VMM by pid, start time and user.
 */
class VmmSandboxIT {
    static RuntimeFixture runtime;
    static String a;
    static String b;
    static final String MARK = "wl-only-on-the-config-drive-";

    @BeforeAll
    static void boot() throws Exception {
        runtime = new RuntimeFixture();
        a = RuntimeFixture.uniqueName("sbx-a");
        b = RuntimeFixture.uniqueName("sbx-b");
        for (String name : List.of(a, b)) {
            // A workload and an environment, but no config drive: the runtime adds one to carry them.
            runtime.vms.run(VmSpec.builder(name, runtime.image).memoryMib(256)
                    .drive(new DriveSpec.Data(16)).drive(new DriveSpec.Secrets(Map.of("token", "s3cr3t-" + name)))
                    .cmd("echo \"$WORKLOAD_MARK\" > /tmp/workload-ran; exec sleep 100000")
                    .env(Map.of("WORKLOAD_MARK", MARK + name))
                    .build());
        }
    }

    @AfterAll
    static void cleanUp() throws Exception {
        if (runtime != null) {
            runtime.close();
        }
    }

    static Map<String, String> status(long pid) throws IOException {
        Map<String, String> out = new java.util.HashMap<>();
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            int colon = line.indexOf(':');
            out.put(line.substring(0, colon), line.substring(colon + 1).strip());
        }
        return out;
    }

    static List<String> cmdline(long pid) throws IOException {
        return List.of(new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")),
                StandardCharsets.UTF_8).split("\0"));
    }

    static int owner(Path file) throws IOException {
        return (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    }

    /** Runs {@code argv} as {@code uid} (group {@code uid}, no other groups): what the VMM's user may do. */
    static int runAs(int uid, String... argv) throws Exception {
        List<String> command = new ArrayList<>(List.of("setpriv", "--reuid=" + uid, "--regid=" + uid, "--clear-groups", "--"));
        command.addAll(List.of(argv));
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        return p.waitFor();
    }

    static String sh(String name, String script) {
        try (GuestChannel guest = runtime.vms.guest(name)) {
            GuestChannel.ExecResult result = guest.exec(GuestChannel.ExecRequest.of(Duration.ofSeconds(60), "sh", "-c", script));
            assertThat(result.exitCode()).as(script + ": " + result.stderrText()).isZero();
            return result.stdoutText().strip();
        }
    }

    @Test
    void eachVmmRunsAsItsOwnUnprivilegedUserUnderSeccompWithOnlyItsOwnFiles() throws Exception {
        VmHandle ha = runtime.vms.handle(a);
        VmHandle hb = runtime.vms.handle(b);
        Map<String, String> sa = status(ha.pid());
        int uidA = Integer.parseInt(sa.get("Uid").split("\\s+")[0]);
        int uidB = Integer.parseInt(status(hb.pid()).get("Uid").split("\\s+")[0]);

        assertThat(uidA).isNotZero().isEqualTo(ha.vmmUid()).isNotEqualTo(uidB);
        assertThat(uidA).isBetween(VmmSandbox.DEFAULT_FIRST_ID, VmmSandbox.DEFAULT_FIRST_ID + VmmSandbox.DEFAULT_COUNT - 1);
        assertThat(sa.get("Uid")).isEqualTo(uidA + "\t" + uidA + "\t" + uidA + "\t" + uidA);
        assertThat(sa.get("Gid")).isEqualTo(uidA + "\t" + uidA + "\t" + uidA + "\t" + uidA);
        assertThat(sa.get("Groups")).isEmpty();
        assertThat(sa.get("Seccomp")).isEqualTo("2");
        assertThat(sa.get("NoNewPrivs")).isEqualTo("1");
        assertThat(sa.get("CapEff")).isEqualTo("0000000000000000");
        assertThat(sa.get("CapBnd")).isEqualTo("0000000000000000");
        assertThat(cmdline(ha.pid())).containsSubsequence("-sandbox",
                "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny").doesNotContain("-daemonize");

        Path dirA = ha.vmDir();
        Path dirB = hb.vmDir();
        assertThat(owner(dirA.resolve("data.ext4"))).isEqualTo(uidA);
        assertThat(owner(dirA.resolve("secrets.ext4"))).isEqualTo(uidA);
        assertThat(owner(dirA.resolve("secrets.json"))).isZero();
        assertThat(Files.getPosixFilePermissions(dirA)).isEqualTo(PosixFilePermissions.fromString("rwxr-x---"));
        // What A's user can and cannot do: its own drive yes; B's drive, the secrets file, the handle: no.
        assertThat(runAs(uidA, "dd", "if=" + dirA.resolve("data.ext4"), "of=/dev/null", "count=1")).isZero();
        assertThat(runAs(uidA, "dd", "if=" + dirB.resolve("data.ext4"), "of=/dev/null", "count=1")).isNotZero();
        assertThat(runAs(uidA, "ls", dirB.toString())).isNotZero();
        assertThat(runAs(uidA, "cat", dirA.resolve("secrets.json").toString())).isNotZero();
        assertThat(runAs(uidA, "sh", "-c", "echo x > " + dirA.resolve("handle.json"))).isNotZero();
        assertThat(runAs(uidA, "touch", dirA.resolve("planted").toString())).isNotZero();
        assertThat(sh(a, "cat /run/secrets/token")).isEqualTo("s3cr3t-" + a);
    }

    @Test
    void theWorkloadIsOnNeitherTheHostsNorTheGuestsCommandLine() throws Exception {
        VmHandle ha = runtime.vms.handle(a);
        assertThat(sh(a, "for i in $(seq 100); do [ -s /tmp/workload-ran ] && break; sleep 0.2; done; cat /tmp/workload-ran"))
                .as("the workload ran with its environment").isEqualTo(MARK + a);
        String hostArgv = String.join(" ", cmdline(ha.pid()));
        String guestCmdline = sh(a, "cat /proc/cmdline");
        for (String text : List.of(hostArgv, guestCmdline)) {
            assertThat(text).doesNotContain("mvm.cmd").doesNotContain("mvm.env").doesNotContain("WORKLOAD_MARK")
                    .doesNotContain(MARK).doesNotContain("sleep 100000")
                    .doesNotContain(java.util.Base64.getEncoder().encodeToString(("WORKLOAD_MARK=" + MARK + a + "\n")
                            .getBytes(StandardCharsets.UTF_8)));
        }
        // On the config drive, root-only inside the guest.
        assertThat(sh(a, "stat -c '%a %U' /etc/mvm-config/.mvm-workload.cmd /etc/mvm-config/.mvm-workload.env"))
                .isEqualTo("400 root\n400 root");
    }

    @Test
    void sleepAndWakeStreamThroughTheHostAndARestartedRuntimeReadoptsTheVmm() throws Exception {
        String marker = "kept-" + System.nanoTime();
        sh(b, "echo " + marker + " > /tmp/marker");
        runtime.vms.sleep(b, Duration.ofSeconds(5));
        VmHandle asleep = runtime.vms.handle(b);
        assertThat(asleep.state()).isEqualTo(InstanceState.SLEEPING);
        // Written by this process from the socket, never by QEMU or a shell: root's, owner-only.
        assertThat(owner(asleep.snapshot())).isZero();
        assertThat(Files.getPosixFilePermissions(asleep.snapshot())).isEqualTo(PosixFilePermissions.fromString("rw-------"));

        VmStatus awake = runtime.vms.wake(b, Optional.empty());
        assertThat(awake.state()).isEqualTo(InstanceState.RUNNING);
        assertThat(sh(b, "cat /tmp/marker")).as("memory restored").isEqualTo(marker);
        VmHandle woken = runtime.vms.handle(b);
        Map<String, String> s = status(woken.pid());
        assertThat(s.get("Seccomp")).isEqualTo("2");
        assertThat(Integer.parseInt(s.get("Uid").split("\\s+")[0])).isNotZero().isEqualTo(woken.vmmUid());

        LocalVms.Recovery recovery = runtime.restartedRuntime().recoverAll();
        assertThat(recovery.adopted()).extracting(VmStatus::name).contains(a, b);
        VmHandle adopted = runtime.vms.handle(b);
        assertThat(adopted.pid()).isEqualTo(woken.pid());
        assertThat(adopted.vmmUid()).isEqualTo(woken.vmmUid());
        assertThat(adopted.state()).isEqualTo(InstanceState.RUNNING);
    }
}
