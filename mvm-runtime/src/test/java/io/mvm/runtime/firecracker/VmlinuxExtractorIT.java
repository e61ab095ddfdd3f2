package io.mvm.runtime.firecracker;

import static org.assertj.core.api.Assertions.assertThat;

import io.mvm.runtime.image.ElfFile;
import io.mvm.runtime.testing.HostCapabilities;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The real thing Firecracker would load: the ELF vmlinux extracted from the Debian cloud kernel of
 * the test image (zstd-compressed in 6.x). Proves extraction, not that Firecracker boots it.
 */
class VmlinuxExtractorIT {

    @Test
    void extractsAnX86_64ElfFromTheImageKernel(@TempDir Path dir) throws Exception {
        Path images = HostCapabilities.testDataDir().resolve("images");
        Path kernel;
        try (Stream<Path> found = Files.exists(images) ? Files.walk(images, 2) : Stream.empty()) {
            kernel = found.filter(p -> p.getFileName().toString().equals("vmlinuz")).findFirst().orElse(null);
        }
        if (kernel == null) {
            String reason = "no built guest image under " + images + " (run an image-building IT or mvm bootstrap first)";
            if (Boolean.getBoolean("mvm.requireHostCapabilities")) {
                throw new AssertionError(reason);
            }
            Assumptions.abort(reason);
        }
        Path vmlinux = VmlinuxExtractor.ensure(kernel, dir.resolve("vmlinux"));
        byte[] elf = Files.readAllBytes(vmlinux);
        ElfFile.parse(elf, vmlinux.toString());
        ByteBuffer header = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        assertThat(elf[4]).as("ELFCLASS64").isEqualTo((byte) 2);
        assertThat(header.getShort(18)).as("e_machine x86-64").isEqualTo((short) 62);
        assertThat(elf.length).isGreaterThan((int) Files.size(kernel));
    }
}
