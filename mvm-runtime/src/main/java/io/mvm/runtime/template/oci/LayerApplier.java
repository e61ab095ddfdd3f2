package io.mvm.runtime.template.oci;

import io.mvm.runtime.template.RootfsPath;
import io.mvm.runtime.template.TemplateBuildException;
import io.mvm.runtime.state.DirectoryTree;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Applies OCI layers, in order, onto a staging root filesystem: the layer's files, directories,
 * symbolic and hard links with their modes and owners, and the whiteouts that delete what lower
 * layers put there ({@code .wh.<name>}: that entry; {@code .wh..wh..opq}: everything the lower layers
 * put in that directory).
 *
 * <p>Refused, failing the build: absolute paths and {@code ..} (entries and hard-link targets),
 * symbolic links whose relative target climbs above the root, device nodes, and anything beyond
 * the {@link UnpackLimits}. Every path is resolved with {@link RootfsPath}, so a symbolic link an
 * earlier layer planted is followed inside the rootfs, never into the host. FIFOs are skipped (with
 * a note): Java cannot make one and no guest init of mvm's needs them from the image.
 *
 * <p>One applier is used for all layers of one image; its counters bound the image as a whole.
 */
public final class LayerApplier {
    static final String WHITEOUT_PREFIX = ".wh.";
    static final String OPAQUE_MARKER = ".wh..wh..opq";

    private final Path root;
    private final UnpackLimits limits;
    private final Consumer<String> notes;
    private long bytes;
    private long entries;

    public LayerApplier(Path root, UnpackLimits limits, Consumer<String> notes) {
        this.root = root;
        this.limits = limits;
        this.notes = notes;
    }

    public long bytesWritten() {
        return bytes;
    }

    /** Entries read so far, whiteouts included (what the limit counts). */
    public long entriesCreated() {
        return entries;
    }

    /**
     * @param layerName how errors name the layer (its digest)
     * @param tar       the uncompressed tar stream of the layer
     */
    public void apply(String layerName, InputStream tar) {
        // Paths (relative, '/'-joined) this layer wrote: whiteouts delete only what lower layers made,
        // whatever order the layer's own entries come in.
        Set<String> createdByThisLayer = new HashSet<>();
        // The caller owns the stream (it still hashes what follows the tar's end), so it is not closed here.
        try {
            TarArchiveInputStream in = new TarArchiveInputStream(new java.io.FilterInputStream(tar) {
                @Override
                public void close() {}
            });
            TarArchiveEntry entry;
            while ((entry = in.getNextEntry()) != null) {
                applyEntry(layerName, entry, in, createdByThisLayer);
            }
        } catch (TemplateBuildException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new TemplateBuildException("layer " + layerName + " is not a readable tar archive: " + e.getMessage(), e);
        }
    }

    private void applyEntry(String layer, TarArchiveEntry entry, InputStream content, Set<String> created) throws IOException {
        String name = entry.getName();
        List<String> parts;
        try {
            parts = RootfsPath.components(name);
        } catch (TemplateBuildException e) {
            throw new TemplateBuildException("layer " + layer + ": " + e.getMessage());
        }
        if (parts.isEmpty()) {
            return; // "./" itself: the root keeps mvm's owner and mode
        }
        // Every entry counts, whiteouts too: a layer of a million whiteouts is as hostile as one of files.
        if (++entries > limits.maxEntries()) {
            throw new TemplateBuildException("the image has more than " + limits.maxEntries() + " entries (the limit)");
        }
        String base = parts.getLast();
        if (base.equals(OPAQUE_MARKER)) {
            List<String> dirParts = parts.subList(0, parts.size() - 1);
            RootfsPath.entry(root, dirParts, false).filter(d -> Files.isDirectory(d, LinkOption.NOFOLLOW_LINKS))
                    .ifPresent(dir -> pruneLowerLayers(dir, String.join("/", dirParts), created));
            return;
        }
        if (base.startsWith(WHITEOUT_PREFIX)) {
            String victimName = base.substring(WHITEOUT_PREFIX.length());
            if (victimName.isEmpty() || victimName.equals(".") || victimName.equals("..")) {
                // ".wh.." would name the directory's parent: a whiteout can only remove an entry of its own directory
                throw new TemplateBuildException("layer " + layer + ": whiteout '" + name + "' names no entry of its directory");
            }
            List<String> victim = new java.util.ArrayList<>(parts.subList(0, parts.size() - 1));
            victim.add(victimName);
            if (!created.contains(String.join("/", victim))) {
                RootfsPath.entry(root, victim, false).ifPresent(DirectoryTree::delete);
            }
            return;
        }
        if (entry.isCharacterDevice() || entry.isBlockDevice()) {
            throw new TemplateBuildException("layer " + layer + ": device node '" + name + "' is not allowed in a template image");
        }
        if (entry.isFIFO()) {
            notes.accept("layer " + layer + ": skipped FIFO " + name);
            return;
        }
        Path target = RootfsPath.entry(root, parts, true).orElseThrow(() -> new TemplateBuildException(
                "layer " + layer + ": cannot place '" + name + "': a parent is not a directory"));
        String key = String.join("/", parts);
        created.add(key);

        boolean existingIsDirectory = Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS);
        if (entry.isDirectory()) {
            if (!existingIsDirectory) {
                DirectoryTree.delete(target);
                Files.createDirectory(target);
            }
        } else {
            DirectoryTree.delete(target);
            if (entry.isSymbolicLink()) {
                String linkTarget = entry.getLinkName();
                if (linkTarget.isEmpty() || linkTarget.indexOf('\0') >= 0 || !RootfsPath.relativeTargetStaysInside(parts, linkTarget)) {
                    throw new TemplateBuildException("layer " + layer + ": symbolic link '" + name + "' -> '"
                            + linkTarget + "' points outside the image");
                }
                Files.createSymbolicLink(target, Path.of(linkTarget));
            } else if (entry.isLink()) {
                List<String> linkParts;
                try {
                    linkParts = RootfsPath.components(entry.getLinkName());
                } catch (TemplateBuildException e) {
                    throw new TemplateBuildException("layer " + layer + ": hard link '" + name + "': " + e.getMessage());
                }
                Path existing = RootfsPath.entry(root, linkParts, false)
                        .filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) || Files.isSymbolicLink(p))
                        .orElseThrow(() -> new TemplateBuildException("layer " + layer + ": hard link '" + name
                                + "' names '" + entry.getLinkName() + "', which is not a file in the image"));
                Files.createLink(target, existing);
                return; // a hard link shares its target's inode: owner, mode and times are the target's
            } else if (entry.isFile()) {
                writeFile(target, content, entry.getSize());
            } else {
                throw new TemplateBuildException("layer " + layer + ": entry '" + name + "' has an unsupported type ("
                        + (char) entry.getLinkFlag() + ")");
            }
        }
        applyMetadata(target, entry);
    }

    private void writeFile(Path target, InputStream content, long declaredSize) throws IOException {
        if (declaredSize < 0 || bytes + declaredSize > limits.maxBytes()) {
            throw new TemplateBuildException("the image unpacks to more than " + limits.maxBytes() + " bytes (the limit)");
        }
        try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            bytes += content.transferTo(out);
        }
    }

    /** chown before chmod: changing the owner clears set-user-ID bits. Symbolic links get owner and times only. */
    private static void applyMetadata(Path target, TarArchiveEntry entry) throws IOException {
        Files.setAttribute(target, "unix:uid", (int) entry.getLongUserId(), LinkOption.NOFOLLOW_LINKS);
        Files.setAttribute(target, "unix:gid", (int) entry.getLongGroupId(), LinkOption.NOFOLLOW_LINKS);
        if (!entry.isSymbolicLink()) {
            Files.setAttribute(target, "unix:mode", entry.getMode() & 07777);
        }
        FileTime modified = FileTime.from(entry.getLastModifiedTime().toInstant());
        Files.getFileAttributeView(target, BasicFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setTimes(modified, null, null);
    }

    /** An opaque directory hides everything below it that this layer did not write itself. */
    private static void pruneLowerLayers(Path dir, String relative, Set<String> created) {
        try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
            for (Path child : children) {
                String key = (relative.isEmpty() ? "" : relative + "/") + child.getFileName();
                if (!created.contains(key)) {
                    DirectoryTree.delete(child);
                } else if (Files.isDirectory(child, LinkOption.NOFOLLOW_LINKS)) {
                    pruneLowerLayers(child, key, created);
                }
            }
        } catch (IOException e) {
            throw new TemplateBuildException("cannot apply the opaque directory " + relative + ": " + e.getMessage(), e);
        }
    }
}
