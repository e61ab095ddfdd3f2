package io.mvm.runtime.firecracker;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import io.mvm.files.AtomicFile;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

/**
 * Firecracker loads an uncompressed ELF {@code vmlinux}, not the {@code bzImage} Debian ships.
 * This reads the x86 boot header (boot protocol 2.08+: {@code payload_offset}/{@code
 * payload_length}) to find the compressed kernel exactly, rather than scanning for magic bytes the
 * way scripts/extract-vmlinux does, and decompresses it: gzip in the JVM; zstd (Debian's cloud
 * kernels since 6.x) and xz through the host's {@code zstd}/{@code xz} programs. lz4, lzo, lzma
 * and bzip2 kernels are rejected with a clear error.
 */
public final class VmlinuxExtractor {
    private static final byte[] ELF = {0x7f, 'E', 'L', 'F'};
    private static final long DECOMPRESS_TIMEOUT_SECONDS = 120;

    public enum Compression { GZIP, ZSTD, XZ }

    /** Where the compressed kernel sits inside a bzImage. */
    public record Payload(Compression compression, int offset, int length) {}

    private VmlinuxExtractor() {}

    /**
     * Writes the ELF kernel for {@code kernel} to {@code target} (atomically) unless {@code target}
     * already exists and is newer; an ELF {@code kernel} is used as it is.
     */
    public static Path ensure(Path kernel, Path target) {
        try {
            byte[] image = Files.readAllBytes(kernel);
            if (isElf(image)) {
                return kernel;
            }
            if (Files.isRegularFile(target)
                    && !Files.getLastModifiedTime(target).toInstant().isBefore(Files.getLastModifiedTime(kernel).toInstant())) {
                return target;
            }
            byte[] elf = extract(image);
            AtomicFile.write(target, elf);
            return target;
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot extract an ELF vmlinux from " + kernel + ": " + e.getMessage(), e);
        }
    }

    static boolean isElf(byte[] bytes) {
        return bytes.length >= 4 && Arrays.equals(bytes, 0, 4, ELF, 0, 4);
    }

    /** The uncompressed ELF kernel inside a bzImage. */
    public static byte[] extract(byte[] bzImage) {
        Payload payload = locate(bzImage);
        byte[] compressed = Arrays.copyOfRange(bzImage, payload.offset(), payload.offset() + payload.length());
        byte[] elf = switch (payload.compression()) {
            case GZIP -> gunzip(compressed);
            // The kernel build appends the uncompressed size (le32) after zstd and xz streams.
            case ZSTD -> checkSize(hostDecompress(List.of("zstd", "-dcq"), withoutSize(compressed)), compressed);
            case XZ -> checkSize(hostDecompress(List.of("xz", "-dcq"), withoutSize(compressed)), compressed);
        };
        if (!isElf(elf)) {
            throw MvmException.invalid("the decompressed kernel is not an ELF file");
        }
        return elf;
    }

    /** Finds the payload through the boot header; fails clearly for anything but gzip/zstd/xz. */
    public static Payload locate(byte[] image) {
        ByteBuffer header = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        if (image.length < 0x250 || header.getInt(0x202) != 0x53726448) { // "HdrS"
            throw MvmException.invalid("the kernel is neither an ELF vmlinux nor an x86 bzImage (no HdrS boot header)");
        }
        int protocol = Short.toUnsignedInt(header.getShort(0x206));
        if (protocol < 0x208) {
            throw MvmException.invalid(String.format("bzImage boot protocol %d.%02d is too old to locate the payload (need 2.08+)",
                    protocol >> 8, protocol & 0xff));
        }
        int setupSectors = Byte.toUnsignedInt(image[0x1f1]);
        int protectedModeStart = ((setupSectors == 0 ? 4 : setupSectors) + 1) * 512;
        int offset = protectedModeStart + header.getInt(0x248);
        int length = header.getInt(0x24c);
        if (offset < 0 || length <= 4 || (long) offset + length > image.length) {
            throw MvmException.invalid("the bzImage payload (offset " + offset + ", length " + length + ") lies outside the file");
        }
        return new Payload(compressionAt(image, offset), offset, length);
    }

    private static Compression compressionAt(byte[] image, int offset) {
        if (startsWith(image, offset, 0x1f, 0x8b)) {
            return Compression.GZIP;
        }
        if (startsWith(image, offset, 0x28, 0xb5, 0x2f, 0xfd)) {
            return Compression.ZSTD;
        }
        if (startsWith(image, offset, 0xfd, '7', 'z', 'X', 'Z', 0x00)) {
            return Compression.XZ;
        }
        throw MvmException.invalid(String.format(
                "the bzImage payload starts with %02x %02x %02x %02x: only gzip, zstd and xz kernels are supported for Firecracker",
                image[offset], image[offset + 1], image[offset + 2], image[offset + 3]));
    }

    private static boolean startsWith(byte[] bytes, int offset, int... magic) {
        for (int i = 0; i < magic.length; i++) {
            if (offset + i >= bytes.length || (bytes[offset + i] & 0xff) != magic[i]) {
                return false;
            }
        }
        return true;
    }

    private static byte[] withoutSize(byte[] compressed) {
        return Arrays.copyOf(compressed, compressed.length - 4);
    }

    private static byte[] checkSize(byte[] output, byte[] compressed) {
        int expected = ByteBuffer.wrap(compressed, compressed.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        if (output.length != expected) {
            throw new MvmException(ErrorCategory.INTERNAL, "the decompressed kernel has " + output.length
                    + " bytes but the bzImage says " + expected);
        }
        return output;
    }

    private static byte[] gunzip(byte[] compressed) {
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(compressed))) {
            return in.readAllBytes();
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot gunzip the kernel payload: " + e.getMessage(), e);
        }
    }

    private static byte[] hostDecompress(List<String> command, byte[] input) {
        try {
            Process process = new ProcessBuilder(command).start();
            // Feed stdin from its own thread: the output pipe fills long before the input is written.
            Thread feeder = Thread.ofVirtual().start(() -> {
                try (var stdin = process.getOutputStream()) {
                    stdin.write(input);
                } catch (IOException ignored) {
                    // the process exited early: its exit status tells why
                }
            });
            ByteArrayOutputStream out = new ByteArrayOutputStream(input.length * 4);
            process.getInputStream().transferTo(out);
            String errors = new String(process.getErrorStream().readAllBytes()).strip();
            if (!process.waitFor(DECOMPRESS_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new MvmException(ErrorCategory.UNAVAILABLE, command.getFirst() + " did not finish decompressing the kernel");
            }
            feeder.join();
            if (process.exitValue() != 0) {
                throw new MvmException(ErrorCategory.INTERNAL, command.getFirst() + " failed to decompress the kernel (exit "
                        + process.exitValue() + "): " + errors);
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.FAILED_PRECONDITION, "cannot run " + command.getFirst()
                    + " to decompress the kernel (install it: apt-get install " + command.getFirst() + "): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MvmException(ErrorCategory.UNAVAILABLE, "interrupted while decompressing the kernel", e);
        }
    }
}
