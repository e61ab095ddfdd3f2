package io.mvm.runtime.image;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class CpioArchiveTest {

    record Entry(String name, int mode, int rdevMajor, int rdevMinor, byte[] data) {}

    /** An independent reader of the newc format, written from the format description. */
    static List<Entry> read(byte[] archive) {
        List<Entry> entries = new ArrayList<>();
        int at = 0;
        while (true) {
            String magic = new String(archive, at, 6, StandardCharsets.US_ASCII);
            assertThat(magic).isEqualTo("070701");
            int[] f = new int[13];
            for (int i = 0; i < 13; i++) {
                f[i] = (int) Long.parseLong(new String(archive, at + 6 + i * 8, 8, StandardCharsets.US_ASCII), 16);
            }
            int nameSize = f[11];
            String name = new String(archive, at + 110, nameSize - 1, StandardCharsets.UTF_8);
            assertThat(archive[at + 110 + nameSize - 1]).isZero();
            at = align(at + 110 + nameSize);
            byte[] data = Arrays.copyOfRange(archive, at, at + f[6]);
            at = align(at + f[6]);
            if (name.equals("TRAILER!!!")) {
                assertThat(at).isEqualTo(archive.length);
                return entries;
            }
            assertThat(f[2]).as("uid").isZero();
            assertThat(f[3]).as("gid").isZero();
            entries.add(new Entry(name, f[1], f[9], f[10], data));
        }
    }

    private static int align(int n) {
        return (n + 3) & ~3;
    }

    @Test
    void writesNewcEntriesPaddedToFourBytes() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        new CpioArchive(out)
                .directory("bin", 0755)
                .file("bin/busybox", 0755, "abcde".getBytes(StandardCharsets.US_ASCII))
                .symlink("bin/sh", "busybox")
                .directory("dev", 0755)
                .characterDevice("dev/console", 0600, 5, 1)
                .file("/init", 0700, new byte[0])
                .finish();
        byte[] archive = out.toByteArray();
        assertThat(archive.length % 4).isZero();

        List<Entry> entries = read(archive);
        assertThat(entries).extracting(Entry::name).containsExactly("bin", "bin/busybox", "bin/sh", "dev", "dev/console", "init");
        assertThat(entries.get(0).mode()).isEqualTo(0040755);
        assertThat(entries.get(1).mode()).isEqualTo(0100755);
        assertThat(new String(entries.get(1).data(), StandardCharsets.US_ASCII)).isEqualTo("abcde");
        assertThat(entries.get(2).mode()).isEqualTo(0120777);
        assertThat(new String(entries.get(2).data(), StandardCharsets.US_ASCII)).isEqualTo("busybox");
        assertThat(entries.get(4).mode()).isEqualTo(0020600);
        assertThat(entries.get(4).rdevMajor()).isEqualTo(5);
        assertThat(entries.get(4).rdevMinor()).isEqualTo(1);
    }

    @Test
    void refusesEntriesBeforeTheirDirectoryDuplicatesAndEscapes() {
        assertThatThrownBy(() -> new CpioArchive(new ByteArrayOutputStream()).file("lib/x", 0644, new byte[0]))
                .hasMessageContaining("before its directory");
        assertThatThrownBy(() -> new CpioArchive(new ByteArrayOutputStream()).directory("a", 0755).directory("a", 0755))
                .hasMessageContaining("duplicate");
        assertThatThrownBy(() -> new CpioArchive(new ByteArrayOutputStream()).file("../etc/passwd", 0644, new byte[0]))
                .hasMessageContaining("bad cpio entry name");
    }
}
