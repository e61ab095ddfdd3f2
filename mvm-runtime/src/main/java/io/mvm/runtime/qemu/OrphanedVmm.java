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
 * recycled pid is never mistaken for our VMM. The socket must be the exact path of a {@code -qmp
 * unix:} argument: a substring test would also take the VMM of {@code vms/web-1} for
 * {@code vms/web-10}'s (or of a path that merely contains it), and kill it.
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
        if (process.isEmpty() || !namesMonitor(commandLine(pid), socket)) {
            return Optional.empty();
        }
        return process;
    }

    /** Whether an argument list has {@code -qmp unix:<socket>[,options]} for exactly this socket. */
    static boolean namesMonitor(List<String> argv, String socket) {
        for (int i = 0; i + 1 < argv.size(); i++) {
            if (argv.get(i).equals("-qmp") && argv.get(i + 1).startsWith("unix:")
                    && unixPath(argv.get(i + 1).substring("unix:".length())).equals(socket)) {
                return true;
            }
        }
        return false;
    }

    /** The path of a QEMU option value: up to the first single ',' with ",," read as a literal comma. */
    private static String unixPath(String value) {
        StringBuilder path = new StringBuilder();
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if (c == ',') {
                if (i + 1 < value.length() && value.charAt(i + 1) == ',') {
                    path.append(',');
                    i++;
                    continue;
                }
                break;
            }
            path.append(c);
        }
        return path.toString();
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
