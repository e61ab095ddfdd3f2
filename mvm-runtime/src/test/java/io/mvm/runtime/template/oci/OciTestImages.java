package io.mvm.runtime.template.oci;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Consumer;
import java.util.zip.GZIPOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

/**
 * Writes small OCI images for tests, the way image tools lay them out: tar layers (gzip or not),
 * an image config, a manifest, index.json and oci-layout; or a docker-save directory/archive.
 */
final class OciTestImages {
    static final ObjectMapper JSON = new ObjectMapper();

    private OciTestImages() {}

    /** One layer's entries, in the order they appear in its tar. */
    static final class Layer {
        private final List<Consumer<TarArchiveOutputStream>> writes = new ArrayList<>();

        Layer dir(String name, int mode, int uid, int gid) {
            return add(name, TarConstants.LF_DIR, mode, uid, gid, null, null);
        }

        Layer file(String name, String content, int mode, int uid, int gid) {
            return add(name, TarConstants.LF_NORMAL, mode, uid, gid, null, content.getBytes(StandardCharsets.UTF_8));
        }

        Layer file(String name, byte[] content, int mode) {
            return add(name, TarConstants.LF_NORMAL, mode, 0, 0, null, content);
        }

        Layer file(String name, String content) {
            return file(name, content, 0644, 0, 0);
        }

        Layer symlink(String name, String target) {
            return add(name, TarConstants.LF_SYMLINK, 0777, 0, 0, target, null);
        }

        Layer hardlink(String name, String target) {
            return add(name, TarConstants.LF_LINK, 0644, 0, 0, target, null);
        }

        Layer whiteout(String dir, String victim) {
            return file((dir.isEmpty() ? "" : dir + "/") + ".wh." + victim, "");
        }

        Layer opaque(String dir) {
            return file(dir + "/.wh..wh..opq", "");
        }

        Layer charDevice(String name) {
            return add(name, TarConstants.LF_CHR, 0600, 0, 0, null, null);
        }

        private Layer add(String name, byte type, int mode, int uid, int gid, String link, byte[] content) {
            writes.add(out -> {
                try {
                    TarArchiveEntry entry = new TarArchiveEntry(name, type, true); // keep a leading "/": tests need hostile names
                    entry.setMode(mode);
                    entry.setUserId(uid);
                    entry.setGroupId(gid);
                    if (link != null) {
                        entry.setLinkName(link);
                    }
                    if (content != null) {
                        entry.setSize(content.length);
                    }
                    if (type == TarConstants.LF_CHR) {
                        entry.setDevMajor(1);
                        entry.setDevMinor(3);
                    }
                    out.putArchiveEntry(entry);
                    if (content != null) {
                        out.write(content);
                    }
                    out.closeArchiveEntry();
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
            return this;
        }

        byte[] tar() {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            try (TarArchiveOutputStream out = new TarArchiveOutputStream(bytes)) {
                out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
                out.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
                writes.forEach(w -> w.accept(out));
                out.finish();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return bytes.toByteArray();
        }

        byte[] tarGz() {
            return gzip(tar());
        }
    }

    static byte[] gzip(byte[] data) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (GZIPOutputStream out = new GZIPOutputStream(bytes)) {
            out.write(data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    static ObjectNode config(List<String> entrypoint, List<String> cmd, List<String> env, String workingDir, String user) {
        ObjectNode config = JSON.createObjectNode();
        config.put("architecture", "amd64").put("os", "linux");
        ObjectNode c = config.putObject("config");
        entrypoint.forEach(c.putArray("Entrypoint")::add);
        cmd.forEach(c.putArray("Cmd")::add);
        env.forEach(c.putArray("Env")::add);
        c.put("WorkingDir", workingDir).put("User", user);
        config.putObject("rootfs").put("type", "layers").putArray("diff_ids");
        return config;
    }

    /**
     * Writes an OCI image layout with gzip layers; returns the manifest digest.
     *
     * @param refs one ref.name per image in index.json (all the same image here)
     */
    static String writeLayout(Path dir, ObjectNode config, List<Layer> layers, String... refs) throws IOException {
        Files.createDirectories(dir.resolve("blobs/sha256"));
        Files.writeString(dir.resolve("oci-layout"), "{\"imageLayoutVersion\":\"1.0.0\"}");
        ObjectNode manifest = JSON.createObjectNode();
        manifest.put("schemaVersion", 2).put("mediaType", "application/vnd.oci.image.manifest.v1+json");
        ArrayNode diffIds = (ArrayNode) config.path("rootfs").path("diff_ids");
        ArrayNode layerDescriptors = manifest.putArray("layers");
        for (Layer layer : layers) {
            byte[] tar = layer.tar();
            diffIds.add("sha256:" + sha256(tar));
            byte[] blob = gzip(tar);
            layerDescriptors.addObject().put("mediaType", "application/vnd.oci.image.layer.v1.tar+gzip")
                    .put("digest", "sha256:" + blob(dir, blob)).put("size", blob.length);
        }
        byte[] configBytes = JSON.writeValueAsBytes(config);
        manifest.set("config", JSON.createObjectNode().put("mediaType", "application/vnd.oci.image.config.v1+json")
                .put("digest", "sha256:" + blob(dir, configBytes)).put("size", configBytes.length));
        byte[] manifestBytes = JSON.writeValueAsBytes(manifest);
        String manifestDigest = "sha256:" + blob(dir, manifestBytes);
        ObjectNode index = JSON.createObjectNode().put("schemaVersion", 2);
        ArrayNode manifests = index.putArray("manifests");
        for (String ref : refs.length == 0 ? new String[] {null} : refs) {
            ObjectNode d = manifests.addObject().put("mediaType", "application/vnd.oci.image.manifest.v1+json")
                    .put("digest", manifestDigest).put("size", manifestBytes.length);
            if (ref != null) {
                d.putObject("annotations").put(OciImageReader.REF_ANNOTATION, ref);
            }
        }
        Files.write(dir.resolve("index.json"), JSON.writeValueAsBytes(index));
        return manifestDigest;
    }

    /** Classic docker save: manifest.json, <id>.json config, <n>/layer.tar (uncompressed). Returns the image id. */
    static String writeDockerSave(Path dir, ObjectNode config, List<Layer> layers, String tag) throws IOException {
        Files.createDirectories(dir);
        ArrayNode diffIds = (ArrayNode) config.path("rootfs").path("diff_ids");
        List<String> layerPaths = new ArrayList<>();
        int n = 0;
        for (Layer layer : layers) {
            byte[] tar = layer.tar();
            diffIds.add("sha256:" + sha256(tar));
            String path = "layer" + n++ + "/layer.tar";
            Files.createDirectories(dir.resolve(path).getParent());
            Files.write(dir.resolve(path), tar);
            layerPaths.add(path);
        }
        byte[] configBytes = JSON.writeValueAsBytes(config);
        String id = sha256(configBytes);
        Files.write(dir.resolve(id + ".json"), configBytes);
        ArrayNode manifest = JSON.createArrayNode();
        ObjectNode image = manifest.addObject().put("Config", id + ".json");
        image.putArray("RepoTags").add(tag);
        layerPaths.forEach(image.putArray("Layers")::add);
        Files.write(dir.resolve("manifest.json"), JSON.writeValueAsBytes(manifest));
        return id;
    }

    /** A directory as one tar archive (what `docker save -o` or an oci-archive is). */
    static Path archive(Path dir, Path target) throws IOException {
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(Files.newOutputStream(target));
             var walk = Files.walk(dir)) {
            out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (Path p : walk.sorted().toList()) {
                if (p.equals(dir)) {
                    continue;
                }
                String name = dir.relativize(p).toString() + (Files.isDirectory(p) ? "/" : "");
                TarArchiveEntry entry = new TarArchiveEntry(p.toFile(), name);
                out.putArchiveEntry(entry);
                if (Files.isRegularFile(p)) {
                    Files.copy(p, out);
                }
                out.closeArchiveEntry();
            }
            out.finish();
        }
        return target;
    }

    private static String blob(Path dir, byte[] content) throws IOException {
        String hex = sha256(content);
        Files.write(dir.resolve("blobs/sha256").resolve(hex), content);
        return hex;
    }
}
