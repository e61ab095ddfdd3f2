package io.mvm.runtime.template.oci;

import io.mvm.runtime.template.RootfsPath;
import io.mvm.runtime.template.TemplateBuildException;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Unpacks an image archive — an OCI layout as a tar ({@code skopeo copy ... oci-archive:}) or
 * {@code docker save} output, optionally gzip-compressed — into a private directory, so it can be
 * read like a layout directory. Only directories, regular files and symbolic links that stay
 * inside are accepted (old docker save links duplicate layers with {@code ../<id>/layer.tar});
 * owners and modes are not kept: these are the archive's own files, not the guest's.
 */
public final class ImageArchive {
    private ImageArchive() {}

    public static void extract(Path archive, Path into, UnpackLimits limits) {
        long bytes = 0;
        long entries = 0;
        try (InputStream raw = new BufferedInputStream(Files.newInputStream(archive), 1 << 16);
             TarArchiveInputStream tar = new TarArchiveInputStream(maybeGunzip(raw))) {
            TarArchiveEntry entry;
            while ((entry = tar.getNextEntry()) != null) {
                String entryName = entry.getName();
                List<String> parts = RootfsPath.components(entryName);
                if (parts.isEmpty()) {
                    continue;
                }
                if (++entries > limits.maxEntries()) {
                    throw new TemplateBuildException(archive + " has more than " + limits.maxEntries() + " entries");
                }
                Path target = RootfsPath.entry(into, parts, true).orElseThrow(() -> new TemplateBuildException(
                        archive + ": cannot place " + entryName));
                if (entry.isDirectory()) {
                    if (!Files.isDirectory(target, LinkOption.NOFOLLOW_LINKS)) {
                        Files.createDirectory(target);
                    }
                } else if (entry.isSymbolicLink()) {
                    if (entry.getLinkName().startsWith("/") || !RootfsPath.relativeTargetStaysInside(parts, entry.getLinkName())) {
                        throw new TemplateBuildException(archive + ": symbolic link " + entry.getName() + " points outside the archive");
                    }
                    Files.deleteIfExists(target);
                    Files.createSymbolicLink(target, Path.of(entry.getLinkName()));
                } else if (entry.isFile()) {
                    if (bytes + entry.getSize() > limits.maxBytes()) {
                        throw new TemplateBuildException(archive + " unpacks to more than " + limits.maxBytes() + " bytes");
                    }
                    Files.deleteIfExists(target);
                    try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW)) {
                        bytes += tar.transferTo(out);
                    }
                } else {
                    throw new TemplateBuildException(archive + ": entry " + entry.getName() + " is neither a file, a directory nor a link");
                }
            }
        } catch (TemplateBuildException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            throw new TemplateBuildException("cannot read the image archive " + archive + ": " + e.getMessage(), e);
        }
    }

    /** Layers and archives come gzip-compressed or plain; the first two bytes tell which. */
    static InputStream maybeGunzip(InputStream in) throws IOException {
        InputStream buffered = in.markSupported() ? in : new BufferedInputStream(in, 1 << 16);
        buffered.mark(4);
        int b1 = buffered.read();
        int b2 = buffered.read();
        int b3 = buffered.read();
        int b4 = buffered.read();
        buffered.reset();
        if (b1 == 0x1f && b2 == 0x8b) {
            return new GZIPInputStream(buffered, 1 << 16);
        }
        if (b1 == 0x28 && b2 == 0xb5 && b3 == 0x2f && b4 == 0xfd) {
            throw new TemplateBuildException("zstd-compressed data is not supported; mvm unpacks gzip and uncompressed tars");
        }
        return buffered;
    }
}
