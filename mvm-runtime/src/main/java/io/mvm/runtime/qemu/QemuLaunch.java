package io.mvm.runtime.qemu;

import io.mvm.model.Accelerator;
import io.mvm.model.MvmException;
import io.mvm.runtime.backend.NicSpec;
import io.mvm.runtime.drive.AttachedDrive;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * One QEMU microvm invocation, turned into an argument list by {@link #arguments()} following the
 * boot contract. Pure: building it starts nothing, so the exact command line is unit-tested.
 *
 * @param incoming snapshot to restore instead of booting (wake), or empty for a cold boot: the VMM
 *                 then starts with {@code -incoming defer} and the snapshot is streamed in over QMP
 *                 ({@link QmpMigration#restore})
 */
public record QemuLaunch(
        String binary,
        Accelerator accelerator,
        int vcpus,
        long memoryMib,
        Path kernel,
        Path initramfs,
        String imageBootArgs,
        String hostname,
        Optional<NicSpec> nic,
        List<AttachedDrive> drives,
        Path serialLog,
        Path qmpSocket,
        Path agentSocket,
        Path pidFile,
        Optional<Path> incoming) {

    /** x86's COMMAND_LINE_SIZE including the terminating NUL. */
    public static final int MAX_KERNEL_CMDLINE = 2047;
    public static final String AGENT_PORT_NAME = "io.mvm.agent";

    public QemuLaunch {
        drives = List.copyOf(drives);
    }

    /**
     * The image's boot arguments followed by this VM's {@code mvm.*} arguments. Never the workload:
     * the kernel command line is QEMU's argv (any host user reads it in /proc) and the guest's
     * /proc/cmdline, so {@code cmd} and {@code env} travel on the config drive ({@link
     * io.mvm.runtime.drive.VmDrives#WORKLOAD_CMD}).
     */
    public String kernelCommandLine() {
        List<String> args = new ArrayList<>();
        if (imageBootArgs != null && !imageBootArgs.isBlank()) {
            args.add(imageBootArgs.strip());
        }
        args.add("mvm.hostname=" + hostname);
        nic.filter(NicSpec::addressed).ifPresent(n -> {
            args.add("mvm.ip=" + n.cidr());
            if (n.gateway() != null) {
                args.add("mvm.gw=" + n.gateway());
            }
        });
        String line = String.join(" ", args);
        if (line.length() > MAX_KERNEL_CMDLINE) {
            throw MvmException.invalid("the kernel command line would be " + line.length() + " bytes (limit "
                    + MAX_KERNEL_CMDLINE + "): shorten the image's boot arguments or the VM's name");
        }
        return line;
    }

    public List<String> arguments() {
        List<String> a = new ArrayList<>(List.of(
                binary,
                "-M", "microvm,accel=" + accelerator.wireName(),
                "-nodefaults", "-no-user-config", "-nographic",
                // A guest whose init dies panics and would reboot forever; exiting instead lets
                // the runtime see the VMM die and report the serial tail.
                "-no-reboot",
                "-m", Long.toString(memoryMib),
                "-smp", Integer.toString(vcpus),
                "-kernel", kernel.toString(),
                "-initrd", initramfs.toString(),
                "-append", kernelCommandLine(),
                // append=on (O_APPEND): the runtime truncates the file to bound it (SerialLog.rotate),
                // and QEMU must then write at the new end, not at its old offset.
                "-chardev", "file,id=serial0,append=on,path=" + option(serialLog),
                "-serial", "chardev:serial0",
                "-qmp", "unix:" + option(qmpSocket) + ",server=on,wait=off"));
        for (AttachedDrive drive : drives) {
            a.add("-drive");
            a.add("id=" + drive.id() + ",file=" + option(drive.file()) + ",format=raw,if=none"
                    + (drive.readOnly() ? ",readonly=on" : ""));
            a.add("-device");
            a.add("virtio-blk-device,drive=" + drive.id());
        }
        a.addAll(List.of(
                "-device", "virtio-serial-device",
                "-chardev", "socket,id=agent,path=" + option(agentSocket) + ",server=on,wait=off",
                "-device", "virtserialport,chardev=agent,name=" + AGENT_PORT_NAME));
        nic.ifPresent(n -> a.addAll(List.of(
                "-netdev", "tap,id=net0,ifname=" + n.tap() + ",script=no,downscript=no",
                "-device", "virtio-net-device,netdev=net0,mac=" + n.mac())));
        incoming.ifPresent(file -> a.addAll(List.of("-incoming", "defer")));
        // QEMU's seccomp filter (VmmSandbox.SECCOMP). It also forbids -daemonize (fork, setsid after
        // the filter is installed): the launcher detaches QEMU instead (QemuBackend.launch).
        a.addAll(List.of("-sandbox", VmmSandbox.SECCOMP, "-pidfile", pidFile.toString()));
        return List.copyOf(a);
    }

    /** QEMU's option syntax uses ',' as separator; a literal comma is written twice. */
    static String option(Path path) {
        return path.toString().replace(",", ",,");
    }
}
