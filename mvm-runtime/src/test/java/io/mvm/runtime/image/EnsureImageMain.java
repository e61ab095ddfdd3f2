package io.mvm.runtime.image;

import java.nio.file.Path;
import java.time.InstantSource;
import java.util.Optional;

/** Run in a separate JVM by ImageBuilderIT to prove the build lock works across processes. */
public final class EnsureImageMain {
    private EnsureImageMain() {}

    public static void main(String[] args) {
        GuestImage image = new ImageBuilder(Path.of(args[0]), Optional.of(args[1]), InstantSource.system(),
                line -> System.out.println("progress: " + line)).ensure("default");
        System.out.println("image: " + image.rootfs());
    }
}
