package io.mvm.runtime.state;

import io.mvm.model.ErrorCategory;
import io.mvm.model.MvmException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Removal of a directory the runtime owns (a VM's directory, a build's scratch tree) and of single
 * files in it. Symbolic links are removed, never followed.
 */
public final class DirectoryTree {
    private DirectoryTree() {}

    /** Removes {@code root} and everything below it; absent is fine, failure is an error. */
    public static void delete(Path root) {
        if (root == null || !Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            List<Path> deepestFirst = walk.sorted(Comparator.reverseOrder()).toList();
            for (Path p : deepestFirst) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new MvmException(ErrorCategory.INTERNAL, "cannot remove " + root + ": " + e.getMessage(), e);
        }
    }

    /** Best effort, for scratch space whose leftovers must not fail work that already succeeded. */
    public static void deleteQuietly(Path root) {
        try {
            delete(root);
        } catch (MvmException ignored) {
            // what could not be removed stays; the caller's work is done either way
        }
    }

    /**
     * Best effort, for single files in a directory the runtime owns (sockets, pid files, snapshot
     * parts): what cannot be removed now is swept with the directory.
     */
    public static void deleteFilesQuietly(Path... files) {
        for (Path file : files) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException ignored) {
                // leftovers are swept with the VM directory
            }
        }
    }
}
