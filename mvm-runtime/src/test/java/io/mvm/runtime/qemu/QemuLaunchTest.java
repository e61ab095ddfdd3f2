package io.mvm.runtime.qemu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.mvm.model.Accelerator;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.drive.AttachedDrive;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class QemuLaunchTest {
    private static final Path DIR = Path.of("/var/lib/mvm/vms/web-1");

    private static QemuLaunch launch(Optional<NicSpec> nic, Optional<Path> incoming) {
        return launch(nic, incoming, "console=ttyS0 quiet");
    }

    private static QemuLaunch launch(Optional<NicSpec> nic, Optional<Path> incoming, String bootArgs) {
        return new QemuLaunch("qemu-system-x86_64", Accelerator.TCG, 2, 512, Path.of("/img/vmlinuz"),
                Path.of("/img/initramfs.cpio.gz"), bootArgs, "web-1", nic,
                List.of(new AttachedDrive("root", Path.of("/img/rootfs.ext4"), true),
                        new AttachedDrive("data", DIR.resolve("data.ext4"), false),
                        new AttachedDrive("secrets", DIR.resolve("secrets.ext4"), true)),
                DIR.resolve("serial.log"), DIR.resolve("qmp.sock"), DIR.resolve("agent.sock"), DIR.resolve("qemu.pid"), incoming);
    }

    @Test
    void buildsTheBootContractCommandLine() {
        List<String> args = launch(Optional.empty(), Optional.empty()).arguments();
        assertThat(args).containsExactly(
                "qemu-system-x86_64", "-M", "microvm,accel=tcg", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                "-m", "512", "-smp", "2",
                "-kernel", "/img/vmlinuz", "-initrd", "/img/initramfs.cpio.gz",
                "-append", "console=ttyS0 quiet mvm.hostname=web-1",
                "-chardev", "file,id=serial0,append=on,path=/var/lib/mvm/vms/web-1/serial.log",
                "-serial", "chardev:serial0",
                "-qmp", "unix:/var/lib/mvm/vms/web-1/qmp.sock,server=on,wait=off",
                "-drive", "id=root,file=/img/rootfs.ext4,format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=root",
                "-drive", "id=data,file=/var/lib/mvm/vms/web-1/data.ext4,format=raw,if=none",
                "-device", "virtio-blk-device,drive=data",
                "-drive", "id=secrets,file=/var/lib/mvm/vms/web-1/secrets.ext4,format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=secrets",
                "-device", "virtio-serial-device",
                "-chardev", "socket,id=agent,path=/var/lib/mvm/vms/web-1/agent.sock,server=on,wait=off",
                "-device", "virtserialport,chardev=agent,name=io.mvm.agent",
                "-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
                "-pidfile", "/var/lib/mvm/vms/web-1/qemu.pid");
    }

    @Test
    void addsNicNetworkArgsAndIncoming() {
        NicSpec nic = new NicSpec("mvmt7", "52:54:00:aa:bb:cc", "10.1.0.5", 24, "10.1.0.1");
        QemuLaunch l = launch(Optional.of(nic), Optional.of(DIR.resolve("snapshot.bin")));
        List<String> args = l.arguments();
        assertThat(args).containsSubsequence("-netdev", "tap,id=net0,ifname=mvmt7,script=no,downscript=no",
                "-device", "virtio-net-device,netdev=net0,mac=52:54:00:aa:bb:cc");
        // The snapshot is streamed in over QMP (QmpMigration.restore): no exec:, no shell.
        assertThat(args).containsSubsequence("-incoming", "defer");
        assertThat(String.join(" ", args)).doesNotContain("exec:").doesNotContain("-daemonize");
        String cmdline = l.kernelCommandLine();
        assertThat(cmdline).contains("mvm.ip=10.1.0.5/24", "mvm.gw=10.1.0.1");
        // The workload is on the config drive (VmDrives), never on the kernel command line.
        assertThat(cmdline).doesNotContain("mvm.cmd").doesNotContain("mvm.env");
    }

    @Test
    void rejectsAKernelCommandLineOverTheLimit() {
        assertThatThrownBy(() -> launch(Optional.empty(), Optional.empty(), "x".repeat(2040)).arguments())
                .isInstanceOf(MvmException.class).hasMessageContaining("kernel command line");
    }

    @Test
    void escapesCommasAndQuotes() {
        assertThat(QemuLaunch.option(Path.of("/a,b"))).isEqualTo("/a,,b");
        assertThat(io.mvm.core.shell.ShellWords.quote("it's")).isEqualTo("'it'\\''s'");
    }
}
