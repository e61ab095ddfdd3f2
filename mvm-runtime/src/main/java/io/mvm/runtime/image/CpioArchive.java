package io.mvm.runtime.image;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/**
 * Writes an initramfs in the kernel's "newc" cpio format (the only one it unpacks): a 110-byte
 * ASCII header per entry, the NUL-terminated name and the data, each padded to four bytes, then a
 * {@code TRAILER!!!} entry. Written here rather than by the cpio tool so the build needs one host
 * program less and the archive does not depend on the build machine's file owners or times.
 *
 * <p>Entries are owned by root, have mtime 0 and must be added parents first.
 */
public final class CpioArchive {
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_IFLNK = 0120000;
    private static final int S_IFCHR = 0020000;

    private final OutputStream out;
    private final Set<String> names = new HashSet<>();
    private long written;
    private int nextInode = 1;
    private boolean finished;

    public CpioArchive(OutputStream out) {
        this.out = out;
    }

    public CpioArchive directory(String path, int permissions) throws IOException {
        return entry(path, S_IFDIR | permissions, 2, 0, 0, new byte[0]);
    }

    public CpioArchive file(String path, int permissions, byte[] content) throws IOException {
        return entry(path, S_IFREG | permissions, 1, 0, 0, content);
    }

    public CpioArchive symlink(String path, String target) throws IOException {
        return entry(path, S_IFLNK | 0777, 1, 0, 0, target.getBytes(StandardCharsets.UTF_8));
    }

    public CpioArchive characterDevice(String path, int permissions, int major, int minor) throws IOException {
        return entry(path, S_IFCHR | permissions, 1, major, minor, new byte[0]);
    }

    /** Writes the trailer; the underlying stream stays open (the caller owns it). */
    public void finish() throws IOException {
        if (!finished) {
            header("TRAILER!!!", 0, 0, 1, 0, 0, 0);
            finished = true;
            out.flush();
        }
    }

    private CpioArchive entry(String path, int mode, int links, int rdevMajor, int rdevMinor, byte[] data) throws IOException {
        if (finished) {
            throw new IllegalStateException("archive already finished");
        }
        String name = normalise(path);
        if (!names.add(name)) {
            throw new IllegalArgumentException("duplicate cpio entry " + name);
        }
        int slash = name.lastIndexOf('/');
        if (slash > 0 && !names.contains(name.substring(0, slash))) {
            throw new IllegalArgumentException("cpio entry " + name + " added before its directory");
        }
        header(name, nextInode++, mode, links, data.length, rdevMajor, rdevMinor);
        out.write(data);
        written += data.length;
        pad();
        return this;
    }

    private void header(String name, int inode, int mode, int links, int size, int rdevMajor, int rdevMinor) throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(110).append("070701");
        for (long field : new long[] {inode, mode, 0, 0, links, 0, size, 0, 0, rdevMajor, rdevMinor, nameBytes.length + 1, 0}) {
            h.append(String.format("%08X", field));
        }
        byte[] header = h.toString().getBytes(StandardCharsets.US_ASCII);
        out.write(header);
        out.write(nameBytes);
        out.write(0);
        written += header.length + nameBytes.length + 1;
        pad();
    }

    private void pad() throws IOException {
        while (written % 4 != 0) {
            out.write(0);
            written++;
        }
    }

    private static String normalise(String path) {
        String name = path;
        while (name.startsWith("/")) {
            name = name.substring(1);
        }
        if (name.isEmpty() || name.endsWith("/") || name.contains("//") || name.equals("..") || name.contains("../")) {
            throw new IllegalArgumentException("bad cpio entry name '" + path + "'");
        }
        return name;
    }
}
