package io.mvm.runtime.image;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;

/**
 * Just enough of a 64-bit little-endian ELF reader for two questions the image builder asks: is a
 * binary statically linked (no program interpreter), and what does a kernel module's
 * {@code .modinfo} section say. Reading the section ourselves avoids depending on the host's
 * {@code modinfo} (kmod) understanding the guest kernel's module format.
 */
public final class ElfFile {
    private static final int PT_INTERP = 3;

    private final ByteBuffer data;
    private final String origin;

    private ElfFile(byte[] bytes, String origin) {
        this.origin = origin;
        this.data = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 64 || bytes[0] != 0x7f || bytes[1] != 'E' || bytes[2] != 'L' || bytes[3] != 'F') {
            throw new ImageBuildException(origin + " is not an ELF file");
        }
        if (bytes[4] != 2 || bytes[5] != 1) {
            throw new ImageBuildException(origin + " is not a 64-bit little-endian ELF file");
        }
    }

    public static ElfFile parse(byte[] bytes, String origin) {
        return new ElfFile(bytes, origin);
    }

    public static ElfFile read(Path file) {
        try {
            return new ElfFile(Files.readAllBytes(file), file.toString());
        } catch (IOException e) {
            throw new ImageBuildException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** True when the binary has no PT_INTERP program header, i.e. needs no dynamic loader. */
    public boolean isStaticallyLinked() {
        long phoff = data.getLong(0x20);
        int phentsize = Short.toUnsignedInt(data.getShort(0x36));
        int phnum = Short.toUnsignedInt(data.getShort(0x38));
        for (int i = 0; i < phnum; i++) {
            int at = Math.toIntExact(phoff + (long) i * phentsize);
            if (data.getInt(at) == PT_INTERP) {
                return false;
            }
        }
        return true;
    }

    /** The raw bytes of the named section, if present. */
    public Optional<byte[]> section(String name) {
        long shoff = data.getLong(0x28);
        int shentsize = Short.toUnsignedInt(data.getShort(0x3A));
        int shnum = Short.toUnsignedInt(data.getShort(0x3C));
        int shstrndx = Short.toUnsignedInt(data.getShort(0x3E));
        if (shoff == 0 || shnum == 0 || shstrndx >= shnum) {
            return Optional.empty();
        }
        long namesOffset = data.getLong(Math.toIntExact(shoff + (long) shstrndx * shentsize + 0x18));
        for (int i = 0; i < shnum; i++) {
            int header = Math.toIntExact(shoff + (long) i * shentsize);
            int nameIndex = data.getInt(header);
            if (name.equals(cString(Math.toIntExact(namesOffset + nameIndex)))) {
                int offset = Math.toIntExact(data.getLong(header + 0x18));
                int size = Math.toIntExact(data.getLong(header + 0x20));
                if (offset < 0 || size < 0 || offset + size > data.capacity()) {
                    throw new ImageBuildException(origin + ": section " + name + " lies outside the file");
                }
                return Optional.of(Arrays.copyOfRange(data.array(), offset, offset + size));
            }
        }
        return Optional.empty();
    }

    private String cString(int at) {
        int end = at;
        while (end < data.capacity() && data.get(end) != 0) {
            end++;
        }
        return new String(data.array(), at, end - at, StandardCharsets.US_ASCII);
    }
}
