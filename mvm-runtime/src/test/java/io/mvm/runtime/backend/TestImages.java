package io.mvm.runtime.backend;

import io.mvm.runtime.image.GuestImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Placeholder image files for tests that validate specs or build command lines without booting. */
public final class TestImages {
    private TestImages() {}

    public static GuestImage fake(Path dir) {
        try {
            Path kernel = Files.writeString(dir.resolve("vmlinuz"), "k");
            Path initrd = Files.writeString(dir.resolve("initramfs.cpio.gz"), "i");
            Path rootfs = Files.writeString(dir.resolve("rootfs.ext4"), "r");
            return new GuestImage("test", kernel, initrd, rootfs, "6.1.0-test", "console=ttyS0 tsc_early_khz=2000000 tsc=reliable");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
