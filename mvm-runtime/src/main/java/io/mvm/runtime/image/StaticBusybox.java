package io.mvm.runtime.image;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Locates the host's statically linked busybox (Debian package busybox-static), which is copied
 * into the initramfs and the rootfs; a dynamically linked one would need a libc in the guest.
 */
public final class StaticBusybox {
    private StaticBusybox() {}

    public static Optional<Path> locate() {
        String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin");
        return Stream.concat(Stream.of("/bin", "/usr/bin"), Stream.of(path.split(":")))
                .filter(dir -> !dir.isBlank())
                .map(dir -> Path.of(dir, "busybox"))
                .filter(Files::isRegularFile)
                .filter(Files::isExecutable)
                .filter(StaticBusybox::isStatic)
                .findFirst();
    }

    public static Path find() {
        return locate().orElseThrow(() -> new ImageBuildException(
                "no statically linked busybox found (install the Debian package busybox-static, or run mvm bootstrap)"));
    }

    private static boolean isStatic(Path file) {
        try {
            return ElfFile.read(file).isStaticallyLinked();
        } catch (RuntimeException e) {
            return false;
        }
    }
}
