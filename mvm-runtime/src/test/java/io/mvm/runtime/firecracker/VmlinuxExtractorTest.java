package io.mvm.runtime.firecracker;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * bzImage payload location and decompression on synthetic images built the way the kernel build
 * lays them out (setup sectors, HdrS header, payload_offset/payload_length, size appended after
 * zstd/xz streams). The real Debian kernel is covered by VmlinuxExtractorIT.
 */
class VmlinuxExtractorTest {
    private static final byte[] ELF_BODY = elfBody();

    private static byte[] elfBody() {
        byte[] body = new byte[64 * 1024];
        new Random(42).nextBytes(body);
        System.arraycopy(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1}, 0, body, 0, 7);
        return body;
    }

    /** A bzImage with 2 setup sectors plus the boot sector, and the payload 0x100 bytes into protected mode. */
    static byte[] bzImage(byte[] payload, int protocol) {
        int setupSectors = 2;
        int protectedModeStart = (setupSectors + 1) * 512;
        int payloadOffset = 0x100;
        byte[] image = new byte[protectedModeStart + payloadOffset + payload.length + 64];
        ByteBuffer b = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        image[0x1f1] = (byte) setupSectors;
        b.putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) protocol);
        b.putInt(0x248, payloadOffset);
        b.putInt(0x24c, payload.length);
        System.arraycopy(payload, 0, image, protectedModeStart + payloadOffset, payload.length);
        return image;
    }

    private static byte[] gzip(byte[] data) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(data);
        }
        return out.toByteArray();
    }

    /** Compresses with the host tool and appends the size, like the kernel's {@code *_with_size} rules. */
    private static byte[] hostCompressWithSize(String tool, byte[] data) throws Exception {
        Process p = new ProcessBuilder(tool, "-c", "-q").start();
        Thread feeder = Thread.ofVirtual().start(() -> {
            try (var in = p.getOutputStream()) {
                in.write(data);
            } catch (IOException ignored) {
                // reported by the exit status
            }
        });
        byte[] compressed = p.getInputStream().readAllBytes();
        feeder.join();
        assertThat(p.waitFor()).isZero();
        ByteBuffer withSize = ByteBuffer.allocate(compressed.length + 4).order(ByteOrder.LITTLE_ENDIAN);
        withSize.put(compressed).putInt(data.length);
        return withSize.array();
    }

    @Test
    void extractsAGzipKernel() throws IOException {
        byte[] image = bzImage(gzip(ELF_BODY), 0x20f);
        assertThat(VmlinuxExtractor.locate(image).compression()).isEqualTo(VmlinuxExtractor.Compression.GZIP);
        assertThat(VmlinuxExtractor.extract(image)).isEqualTo(ELF_BODY);
    }

    @Test
    void extractsAZstdKernel() throws Exception {
        byte[] image = bzImage(hostCompressWithSize("zstd", ELF_BODY), 0x20f);
        assertThat(VmlinuxExtractor.locate(image).compression()).isEqualTo(VmlinuxExtractor.Compression.ZSTD);
        assertThat(VmlinuxExtractor.extract(image)).isEqualTo(ELF_BODY);
    }

    @Test
    void extractsAnXzKernel() throws Exception {
        byte[] image = bzImage(hostCompressWithSize("xz", ELF_BODY), 0x20f);
        assertThat(VmlinuxExtractor.extract(image)).isEqualTo(ELF_BODY);
    }

    @Test
    void aWrongAppendedSizeIsDetected() throws Exception {
        byte[] payload = hostCompressWithSize("zstd", ELF_BODY);
        ByteBuffer.wrap(payload).order(ByteOrder.LITTLE_ENDIAN).putInt(payload.length - 4, ELF_BODY.length + 1);
        assertThatThrownBy(() -> VmlinuxExtractor.extract(bzImage(payload, 0x20f))).hasMessageContaining("bzImage says");
    }

    @Test
    void rejectsWhatItCannotHandleWithAClearMessage() {
        assertThatThrownBy(() -> VmlinuxExtractor.locate(new byte[4096])).hasMessageContaining("no HdrS boot header");
        assertThatThrownBy(() -> VmlinuxExtractor.locate(bzImage(new byte[] {0x02, 0x21, 0x4c, 0x18, 0, 0}, 0x20f)))
                .hasMessageContaining("only gzip, zstd and xz");
        assertThatThrownBy(() -> VmlinuxExtractor.locate(bzImage(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0}, 0x207)))
                .hasMessageContaining("too old");
        byte[] truncated = bzImage(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0}, 0x20f);
        ByteBuffer.wrap(truncated).order(ByteOrder.LITTLE_ENDIAN).putInt(0x24c, 1 << 20);
        assertThatThrownBy(() -> VmlinuxExtractor.locate(truncated)).hasMessageContaining("outside the file");
    }

    @Test
    void theCacheSitsNextToAWritableImageAndNeverOverwritesTheKernel(@TempDir Path dir) throws IOException {
        Path image = Files.createDirectories(dir.resolve("image"));
        Path vmDir = Files.createDirectories(dir.resolve("vm"));
        Path kernel = image.resolve("vmlinux");
        assertThat(FirecrackerBackend.vmlinuxCache(kernel, vmDir)).isEqualTo(image.resolve("vmlinux.vmlinux"));
        Files.setPosixFilePermissions(image, java.nio.file.attribute.PosixFilePermissions.fromString("r-xr-xr-x"));
        try {
            if (!Files.isWritable(image)) { // root can write anyway
                assertThat(FirecrackerBackend.vmlinuxCache(kernel, vmDir)).isEqualTo(vmDir.resolve("vmlinux.vmlinux"));
            }
        } finally {
            Files.setPosixFilePermissions(image, java.nio.file.attribute.PosixFilePermissions.fromString("rwx------"));
        }
    }

    @Test
    void ensureWritesOnceAndPassesElfKernelsThrough(@TempDir Path dir) throws IOException {
        Path bz = Files.write(dir.resolve("vmlinuz"), bzImage(gzip(ELF_BODY), 0x20f));
        Path target = dir.resolve("vmlinux");
        assertThat(VmlinuxExtractor.ensure(bz, target)).isEqualTo(target);
        assertThat(Files.readAllBytes(target)).isEqualTo(ELF_BODY);
        Files.setLastModifiedTime(target, Files.getLastModifiedTime(bz)); // not older: reused, not rewritten
        Files.write(target, Arrays.copyOf(ELF_BODY, 16));
        Files.setLastModifiedTime(target, Files.getLastModifiedTime(bz));
        assertThat(Files.size(VmlinuxExtractor.ensure(bz, target))).isEqualTo(16);
        Path elf = Files.write(dir.resolve("plain-vmlinux"), ELF_BODY);
        assertThat(VmlinuxExtractor.ensure(elf, dir.resolve("unused"))).isEqualTo(elf);
        assertThat(dir.resolve("unused")).doesNotExist();
    }
}
