package io.mvm.runtime.qemu;

import io.mvm.runtime.backend.VmmProcess;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Finds a QEMU running on a VM directory that no handle names: launched by a runtime that died
 * before it journalled the pid. A pid (from the pid file, or found in /proc when QEMU died before
 * writing it) only counts when the process's command line names this directory's QMP socket, so a
 * recycled pid is never mistaken for our VMM.
 */
final class OrphanedVmm {
    private OrphanedVmm() {}

    static Optional<VmmProcess> find(Path vmDir, String controlSocketName, String pidFileName) {
        String socket = vmDir.toAbsolutePath().resolve(controlSocketName).toString();
        Optional<VmmProcess> fromPidFile = readPid(vmDir.resolve(pidFileName)).flatMap(pid -> matching(pid, socket));
        if (fromPidFile.isPresent()) {
            return fromPidFile;
        }
        try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
            return procs.map(p -> p.getFileName().toString())
                    .filter(n -> !n.isEmpty() && n.chars().allMatch(Character::isDigit))
                    .map(Long::parseLong)
                    .filter(pid -> pid != ProcessHandle.current().pid())
                    .map(pid -> matching(pid, socket))
                    .flatMap(Optional::stream)
                    .findFirst();
        } catch (IOException e) {
            return Optional.empty();
        }
    }

    private static Optional<Long> readPid(Path pidFile) {
        try {
            return Optional.of(Long.parseLong(Files.readString(pidFile).strip()));
        } catch (IOException | NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static Optional<VmmProcess> matching(long pid, String socket) {
        Optional<VmmProcess> process = VmmProcess.of(pid);
        if (process.isEmpty() || !commandLine(pid).stream().anyMatch(arg -> arg.contains(socket))) {
            return Optional.empty();
        }
        return process;
    }

    private static List<String> commandLine(long pid) {
        try {
            String raw = new String(Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline")), StandardCharsets.UTF_8);
            return List.of(raw.split("\0"));
        } catch (IOException e) {
            return List.of();
        }
    }
}
