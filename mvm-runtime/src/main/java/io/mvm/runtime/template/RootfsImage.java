package io.mvm.runtime.template;

import io.mvm.runtime.image.HostProgram;
import io.mvm.runtime.image.ImageBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.stream.Stream;

/**
 * Turns a staging tree into the read-only root drive: {@code mkfs.ext4 -d}, which copies the tree
 * with its owners, modes, symbolic and hard links, without mounting anything. Labelled
 * {@code mvm-root}, which is how the stage-1 init finds it.
 */
public final class RootfsImage {
    private static final long BLOCK = 4096;

    private RootfsImage() {}

    public static void write(Path tree, Path target) {
        long blocks = 0;
        long inodes = 0;
        try (Stream<Path> walk = Files.walk(tree)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                BasicFileAttributes attributes = Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                inodes++;
                blocks += attributes.isRegularFile() ? (attributes.size() + BLOCK - 1) / BLOCK : 1;
            }
        } catch (IOException e) {
            throw new TemplateBuildException("cannot measure the root filesystem tree: " + e.getMessage(), e);
        }
        // Room for ext4's own metadata (inode tables, bitmaps, directories' growth): a sixth more
        // plus 16 MiB, at least 32 MiB. mkfs fails clearly when the estimate is ever too small.
        long mib = Math.max(32, blocks * BLOCK * 7 / 6 / (1 << 20) + 16);
        long inodeCount = inodes + inodes / 4 + 1024;
        HostProgram.of("mkfs.ext4", "-q", "-F", "-b", "4096", "-L", ImageBuilder.ROOT_LABEL, "-O", "^has_journal",
                        "-E", "root_owner=0:0", "-N", Long.toString(inodeCount), "-m", "0", "-d", tree.toString(),
                        target.toString(), mib + "M")
                .timeout(Duration.ofMinutes(20)).run();
    }
}
