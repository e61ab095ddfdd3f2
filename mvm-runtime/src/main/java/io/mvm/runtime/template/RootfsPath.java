package io.mvm.runtime.template;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

/**
 * Paths inside a root filesystem being assembled on the host, resolved the way the guest will
 * resolve them: a symbolic link in a parent directory is followed, but its target is read relative
 * to the rootfs (an absolute target starts at the rootfs, {@code ..} stops at it). So nothing a
 * user's image contains — {@code lib -> /usr/lib}, {@code x -> ../../../../etc} — can make mvm read
 * or write a host file outside the staging tree. The last component is never followed: callers
 * create, replace or delete that entry itself.
 *
 * <p>The staging tree is private to the build (0700, no other writer), so resolving first and
 * acting after is not a race.
 */
public final class RootfsPath {
    private static final int MAX_LINKS_FOLLOWED = 40;

    private RootfsPath() {}

    /**
     * Splits a path from an archive or config into clean components: {@code ./a//b/} → [a, b].
     * Empty for the root itself. Refuses {@code ..} anywhere and absolute paths, which a well-formed
     * layer never contains and a malicious one uses to climb out.
     */
    public static List<String> components(String archivePath) {
        if (archivePath.indexOf('\0') >= 0) {
            throw new TemplateBuildException("path '" + printable(archivePath) + "' contains a NUL byte");
        }
        if (archivePath.startsWith("/")) {
            throw new TemplateBuildException("absolute path '" + printable(archivePath) + "' is not allowed in a layer");
        }
        List<String> parts = new ArrayList<>();
        for (String part : archivePath.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                throw new TemplateBuildException("path '" + printable(archivePath) + "' climbs out with '..'");
            }
            parts.add(part);
        }
        return parts;
    }

    /**
     * The host path of the directory that holds {@code components}' last entry, following links
     * inside the rootfs; missing directories are created when {@code create} (mode 0755, root).
     * Empty when a parent is missing and not created, or is not a directory.
     */
    public static Optional<Path> parentDirectory(Path root, List<String> components, boolean create) throws IOException {
        Path dir = root;
        Deque<String> pending = new ArrayDeque<>(components.subList(0, Math.max(0, components.size() - 1)));
        int links = 0;
        while (!pending.isEmpty()) {
            String part = pending.removeFirst();
            if (part.equals("..")) {
                dir = dir.equals(root) ? root : dir.getParent();
                continue;
            }
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            Path next = dir.resolve(part);
            if (Files.isSymbolicLink(next)) {
                if (++links > MAX_LINKS_FOLLOWED) {
                    throw new TemplateBuildException("too many levels of symbolic links under " + root.relativize(next));
                }
                String target = Files.readSymbolicLink(next).toString();
                List<String> expanded = new ArrayList<>(List.of(target.split("/")));
                for (int i = expanded.size() - 1; i >= 0; i--) {
                    pending.addFirst(expanded.get(i));
                }
                if (target.startsWith("/")) {
                    dir = root;
                }
                continue;
            }
            if (!Files.exists(next, LinkOption.NOFOLLOW_LINKS)) {
                if (!create) {
                    return Optional.empty();
                }
                Files.createDirectory(next);
            } else if (!Files.isDirectory(next, LinkOption.NOFOLLOW_LINKS)) {
                return Optional.empty();
            }
            dir = next;
        }
        return Optional.of(dir);
    }

    /** The host path of the entry itself (its parent resolved as above, the entry not followed). */
    public static Optional<Path> entry(Path root, List<String> components, boolean createParents) throws IOException {
        if (components.isEmpty()) {
            return Optional.of(root);
        }
        return parentDirectory(root, components, createParents).map(dir -> dir.resolve(components.getLast()));
    }

    /**
     * Whether a relative symbolic link target stays inside the rootfs when read from the link's
     * directory, lexically ({@code a/b/link -> ../../x} stays, {@code -> ../../../x} leaves).
     * Absolute targets always stay: in the guest they start at its root.
     */
    public static boolean relativeTargetStaysInside(List<String> linkComponents, String target) {
        if (target.startsWith("/")) {
            return true;
        }
        int depth = linkComponents.size() - 1;
        for (String part : target.split("/")) {
            if (part.equals("..")) {
                if (--depth < 0) {
                    return false;
                }
            } else if (!part.isEmpty() && !part.equals(".")) {
                depth++;
            }
        }
        return true;
    }

    static String printable(String path) {
        return path.replaceAll("[\\p{Cntrl}]", "?");
    }
}
