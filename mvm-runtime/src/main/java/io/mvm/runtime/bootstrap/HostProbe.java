package io.mvm.runtime.bootstrap;

import io.mvm.runtime.image.StaticBusybox;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/** What the bootstrap needs to know about the host; the real one looks, tests script one. */
public interface HostProbe {

    boolean isRoot();

    /** Debian or Ubuntu with apt-get: packages can be installed automatically. */
    boolean hasApt();

    Optional<Path> find(HostTool tool);

    /** The running host. */
    static HostProbe system() {
        return new HostProbe() {
            @Override
            public boolean isRoot() {
                try {
                    return Files.readAllLines(Path.of("/proc/self/status")).stream()
                            .filter(l -> l.startsWith("Uid:"))
                            .anyMatch(l -> l.split("\\s+")[2].equals("0"));
                } catch (IOException | RuntimeException e) {
                    return false;
                }
            }

            @Override
            public boolean hasApt() {
                return Files.isRegularFile(Path.of("/etc/debian_version")) && onPath("apt-get").isPresent();
            }

            @Override
            public Optional<Path> find(HostTool tool) {
                // Only a statically linked busybox can be copied into the guest as it is.
                return tool.command().equals("busybox") ? StaticBusybox.locate() : onPath(tool.command());
            }

            private Optional<Path> onPath(String command) {
                String path = System.getenv().getOrDefault("PATH", "");
                return Stream.concat(Stream.of(path.split(":")), List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin",
                                "/usr/bin", "/sbin", "/bin").stream())
                        .filter(dir -> !dir.isBlank())
                        .map(dir -> Path.of(dir, command))
                        .filter(p -> Files.isRegularFile(p) && Files.isExecutable(p))
                        .findFirst();
            }
        };
    }
}
